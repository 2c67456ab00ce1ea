// What the in-process command-line tests of tests/apps share: a fresh temporary folder,
// the text of a file, and `glia ARGS...` run through app::main_cli with its output
// captured. (tests/apps/glia_process.h runs the real binary as a child instead.)
#pragma once
#include <string>
#include <vector>

namespace glia::test {

// <system temp>/<name>_<pid>, emptied and created.
std::string fresh_temp_dir(const std::string& name);

// The bytes of a file; "" when it cannot be read.
std::string read_text(const std::string& path);

struct CliResult {
  int code = 0;  // main_cli's exit code
  std::string out, err;
};
// `args` without the leading "glia". capture_stdout false leaves stdout alone (for a
// test that captures it itself: gtest's captures do not nest).
CliResult run_cli(std::vector<std::string> args, bool capture_stdout = true);

}  // namespace glia::test
