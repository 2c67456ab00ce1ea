// Shape checks shared by every backend's pooling kernels.
#include "kernels/pool.h"

#include "kernels/error.h"

namespace glia::kernels {

void validate_pool2d(const Pool2dShape& s, const char* op) {
  GLIA_CHECK(s.n >= 0 && s.c > 0 && s.h_in > 0 && s.w_in > 0,
             op << ": input shape [" << s.n << ", " << s.c << ", " << s.h_in << ", " << s.w_in
                << "] must have positive channels and spatial size");
  GLIA_CHECK(s.kh > 0 && s.kw > 0, op << ": kernel must be positive, got " << s.kh << "x" << s.kw);
  GLIA_CHECK(s.stride_h > 0 && s.stride_w > 0,
             op << ": stride must be positive, got " << s.stride_h << "x" << s.stride_w);
  GLIA_CHECK(s.pad_h >= 0 && s.pad_w >= 0 && 2 * s.pad_h <= s.kh && 2 * s.pad_w <= s.kw,
             op << ": padding " << s.pad_h << "x" << s.pad_w << " must be non-negative and at most half the kernel "
                << s.kh << "x" << s.kw);
  GLIA_CHECK(s.kh <= s.h_in + 2 * s.pad_h && s.kw <= s.w_in + 2 * s.pad_w,
             op << ": kernel " << s.kh << "x" << s.kw << " is larger than the padded input "
                << s.h_in + 2 * s.pad_h << "x" << s.w_in + 2 * s.pad_w);
}

}  // namespace glia::kernels
