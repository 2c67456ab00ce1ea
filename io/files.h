// Directory listing with errors that name the directory (std::filesystem's own
// exceptions are terse). Entries come back sorted by name so every run sees one order.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace glia::io {

// Throws glia::Error when `dir` does not exist, is not a directory or cannot be read.
// `what` describes the directory in the message ("dataset root", "class folder", ...).
std::vector<std::filesystem::path> list_directory(const std::filesystem::path& dir, const std::string& what);

bool is_hidden(const std::filesystem::path& path);

}  // namespace glia::io
