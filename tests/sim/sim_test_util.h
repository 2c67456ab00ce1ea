// Helpers for the emulator's tests: device buffers and checking an error's message.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/runtime.h"
#include "kernels/sim/launch.h"

namespace glia::sim_test {

// A sim buffer (glia::rt::alloc), freed on scope exit. Fresh contents are NaN.
template <class T>
class SimBuffer {
 public:
  explicit SimBuffer(size_t n) : n_(n), p_(static_cast<T*>(rt::alloc(Device::sim, n * sizeof(T)))) {}
  SimBuffer(const SimBuffer&) = delete;
  SimBuffer& operator=(const SimBuffer&) = delete;
  ~SimBuffer() { rt::release(Device::sim, p_, n_ * sizeof(T)); }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return p_[i]; }
  void fill(T v) {
    for (size_t i = 0; i < n_; ++i) p_[i] = v;
  }
  std::vector<T> to_vector() const { return std::vector<T>(p_, p_ + n_); }

 private:
  size_t n_;
  T* p_;
};

// Runs `fn`, expects a glia::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& fn, std::initializer_list<const char*> parts) {
  try {
    fn();
  } catch (const Error& e) {
    std::string message = e.what();
    for (const char* part : parts) EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
    return;
  }
  ADD_FAILURE() << "expected a glia::Error";
}

// Checked mode (and optionally its race half) for the scope of one test.
class CheckedScope {
 public:
  explicit CheckedScope(bool races = true) : was_(sim::checked()), races_was_(sim::check_races()) {
    sim::set_checked(true);
    sim::set_check_races(races);
  }
  ~CheckedScope() {
    sim::set_checked(was_);
    sim::set_check_races(races_was_);
  }

 private:
  bool was_, races_was_;
};

}  // namespace glia::sim_test
