#include "kernels/error.h"

namespace glia {

[[noreturn]] void throw_error(const char* file, int line, const std::string& message) {
  // The message comes first: it is what a user reads. The location helps a developer.
  std::string where(file);
  auto slash = where.find_last_of('/');
  if (slash != std::string::npos) where = where.substr(slash + 1);
  throw Error(message + " [" + where + ":" + std::to_string(line) + "]");
}

}  // namespace glia
