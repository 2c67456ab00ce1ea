#include "io/files.h"

#include <algorithm>
#include <system_error>

#include "kernels/error.h"

namespace glia::io {

namespace fs = std::filesystem;

std::vector<fs::path> list_directory(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  fs::file_status status = fs::status(dir, ec);
  GLIA_CHECK(!ec || ec == std::errc::no_such_file_or_directory,
             what << " " << dir.string() << ": cannot access (" << ec.message() << ")");
  GLIA_CHECK(fs::exists(status), what << " " << dir.string() << " does not exist");
  GLIA_CHECK(fs::is_directory(status), what << " " << dir.string() << " is not a directory");
  std::vector<fs::path> entries;
  fs::directory_iterator it(dir, ec), end;
  GLIA_CHECK(!ec, what << " " << dir.string() << ": cannot list (" << ec.message() << ")");
  for (; it != end; it.increment(ec)) {
    GLIA_CHECK(!ec, what << " " << dir.string() << ": listing failed (" << ec.message() << ")");
    entries.push_back(it->path());
  }
  GLIA_CHECK(!ec, what << " " << dir.string() << ": listing failed (" << ec.message() << ")");
  std::sort(entries.begin(), entries.end());
  return entries;
}

bool is_hidden(const fs::path& path) {
  std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

}  // namespace glia::io
