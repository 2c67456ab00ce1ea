// The real `glia` binary as a child process, for the tests that must see what a user
// sees: exit codes, signals, the files left behind. Its path comes from the build
// (GLIA_BINARY, $<TARGET_FILE:glia>) unless the GLIA_BINARY environment variable says
// otherwise. stdout and stderr are read through pipes on a thread of their own, so a
// chatty child never blocks and a file-size limit on the child does not cut them off.
#pragma once
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace glia::test {

std::string glia_binary();

struct ChildOptions {
  long file_size_limit = 0;  // RLIMIT_FSIZE of the child in bytes (0: none): a disk that fills up
};

struct ChildResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal killed it
  std::string out, err;
};

class GliaProcess {
 public:
  // Starts `glia args...`.
  explicit GliaProcess(const std::vector<std::string>& args, ChildOptions options = {});
  ~GliaProcess();  // kills and reaps a child still running
  GliaProcess(const GliaProcess&) = delete;
  GliaProcess& operator=(const GliaProcess&) = delete;

  pid_t pid() const { return pid_; }
  void send(int signal) const;
  std::string err_so_far() const;
  std::string out_so_far() const;
  // Waits for the exit (killing the child after timeout_seconds: exit_code stays -1).
  ChildResult wait(double timeout_seconds = 300);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  mutable std::mutex mutex_;
  std::string out_, err_;
  std::thread reader_;
  bool reaped_ = false;
};

// Runs `glia args...` to its end.
ChildResult run_glia(const std::vector<std::string>& args, ChildOptions options = {});

}  // namespace glia::test
