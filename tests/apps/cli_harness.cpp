#include "tests/apps/cli_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/app.h"

namespace glia::test {
namespace fs = std::filesystem;

std::string fresh_temp_dir(const std::string& name) {
  const std::string dir = (fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

CliResult run_cli(std::vector<std::string> args, bool capture_stdout) {
  args.insert(args.begin(), "glia");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (capture_stdout) testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  CliResult r;
  r.code = app::main_cli(static_cast<int>(argv.size()), argv.data());
  r.err = testing::internal::GetCapturedStderr();
  if (capture_stdout) r.out = testing::internal::GetCapturedStdout();
  return r;
}

}  // namespace glia::test
