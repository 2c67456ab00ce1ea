#include "tests/apps/glia_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace glia::test {

std::string glia_binary() {
  if (const char* env = std::getenv("GLIA_BINARY")) return env;
  return GLIA_BINARY;
}

GliaProcess::GliaProcess(const std::vector<std::string>& args, ChildOptions options) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const std::string binary = glia_binary();
  std::vector<std::string> argv_strings{binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    if (options.file_size_limit > 0) {
      // Past the limit write() fails with EFBIG, as on a full disk, instead of SIGXFSZ
      // killing the process (an ignored signal stays ignored across exec).
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit limit {};
      ::getrlimit(RLIMIT_FSIZE, &limit);
      limit.rlim_cur = static_cast<rlim_t>(options.file_size_limit);
      if (limit.rlim_max != RLIM_INFINITY && limit.rlim_cur > limit.rlim_max) limit.rlim_cur = limit.rlim_max;
      ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ::execv(binary.c_str(), argv.data());
    const char msg[] = "glia_process: exec failed\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  reader_ = std::thread([this] {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    int open = 2;
    char buf[4096];
    while (open > 0) {
      if (::poll(fds, 2, -1) < 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          fds[i].fd = -1;
          --open;
          continue;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      }
    }
  });
}

GliaProcess::~GliaProcess() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void GliaProcess::send(int signal) const { ::kill(pid_, signal); }

std::string GliaProcess::err_so_far() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_;
}
std::string GliaProcess::out_so_far() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_;
}

ChildResult GliaProcess::wait(double timeout_seconds) {
  ChildResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      if (reader_.joinable()) reader_.join();
      r.out = out_so_far();
      r.err = err_so_far() + "\n[killed by the test after " + std::to_string(timeout_seconds) + " s]";
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  reaped_ = true;
  if (reader_.joinable()) reader_.join();
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = out_so_far();
  r.err = err_so_far();
  return r;
}

ChildResult run_glia(const std::vector<std::string>& args, ChildOptions options) {
  GliaProcess p(args, options);
  return p.wait();
}

}  // namespace glia::test
