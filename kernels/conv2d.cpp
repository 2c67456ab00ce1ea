// Shape checks shared by every backend's conv2d / conv_transpose2d.
#include "kernels/conv2d.h"

#include "kernels/error.h"

namespace glia::kernels {

void validate_conv2d(const Conv2dShape& s, const char* op) {
  GLIA_CHECK(s.n >= 0 && s.c_in > 0 && s.h_in > 0 && s.w_in > 0,
             op << ": input shape [" << s.n << ", " << s.c_in << ", " << s.h_in << ", " << s.w_in
                << "] must have positive channels and spatial size");
  GLIA_CHECK(s.c_out > 0 && s.kh > 0 && s.kw > 0,
             op << ": weight needs positive out-channels and kernel size, got c_out=" << s.c_out
                << " kernel=" << s.kh << "x" << s.kw);
  GLIA_CHECK(s.stride_h > 0 && s.stride_w > 0,
             op << ": stride must be positive, got " << s.stride_h << "x" << s.stride_w);
  GLIA_CHECK(s.dilation_h > 0 && s.dilation_w > 0,
             op << ": dilation must be positive, got " << s.dilation_h << "x" << s.dilation_w);
  GLIA_CHECK(s.pad_top >= 0 && s.pad_bottom >= 0 && s.pad_left >= 0 && s.pad_right >= 0,
             op << ": padding must be non-negative, got (top " << s.pad_top << ", bottom " << s.pad_bottom
                << ", left " << s.pad_left << ", right " << s.pad_right << ")");
  GLIA_CHECK(s.groups > 0 && s.c_in % s.groups == 0 && s.c_out % s.groups == 0,
             op << ": groups=" << s.groups << " must divide in-channels " << s.c_in << " and out-channels "
                << s.c_out);
  int64_t eff_h = s.dilation_h * (s.kh - 1) + 1, eff_w = s.dilation_w * (s.kw - 1) + 1;
  int64_t padded_h = s.h_in + s.pad_top + s.pad_bottom, padded_w = s.w_in + s.pad_left + s.pad_right;
  GLIA_CHECK(eff_h <= padded_h && eff_w <= padded_w,
             op << ": kernel " << s.kh << "x" << s.kw << " (dilated " << eff_h << "x" << eff_w
                << ") is larger than the padded input " << padded_h << "x" << padded_w);
}

}  // namespace glia::kernels
