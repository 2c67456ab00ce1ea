// Errors: every failure in glia is a glia::Error whose message names the thing and what
// is wrong. GLIA_CHECK(cond, stream-expression) builds the message only on failure.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace glia {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace glia

#define GLIA_FAIL(...)                                        \
  do {                                                        \
    std::ostringstream glia_message_;                         \
    glia_message_ << __VA_ARGS__;                             \
    ::glia::throw_error(__FILE__, __LINE__, glia_message_.str()); \
  } while (0)

#define GLIA_CHECK(cond, ...)        \
  do {                               \
    if (!(cond)) GLIA_FAIL(__VA_ARGS__); \
  } while (0)
