// The readers under fuzz take a path and map the file, so each input is written to an
// in-memory file (memfd) and read back through /proc/self/fd/N: no disk, no temp names.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace glia::fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("glia_fuzz_input", 0)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { close(fd_); }
  // Replaces the contents with `size` bytes of `data`; returns the path to open.
  const std::string& hold(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace glia::fuzz
