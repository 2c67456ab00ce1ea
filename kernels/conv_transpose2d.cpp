// Shape checks and the conv2d equivalence shared by every backend's conv_transpose2d.
#include "kernels/conv_transpose2d.h"

#include "kernels/error.h"

namespace glia::kernels {

void validate_conv_transpose2d(const ConvTranspose2dShape& s, const char* op) {
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
  GLIA_CHECK(s.pad_h >= 0 && s.pad_w >= 0, op << ": padding must be non-negative, got " << s.pad_h << "x" << s.pad_w);
  GLIA_CHECK(s.output_pad_h >= 0 && s.output_pad_w >= 0 && s.output_pad_h < s.stride_h &&
                 s.output_pad_w < s.stride_w,
             op << ": output_padding " << s.output_pad_h << "x" << s.output_pad_w
                << " must be non-negative and smaller than stride " << s.stride_h << "x" << s.stride_w);
  GLIA_CHECK(s.h_out() > 0 && s.w_out() > 0,
             op << ": output size " << s.h_out() << "x" << s.w_out() << " is not positive (input " << s.h_in
                << "x" << s.w_in << ", padding " << s.pad_h << "x" << s.pad_w << ")");
}

Conv2dShape conv_transpose2d_as_conv(const ConvTranspose2dShape& s) {
  Conv2dShape c;
  c.n = s.n;
  c.c_in = s.c_out;
  c.h_in = s.h_out();
  c.w_in = s.w_out();
  c.c_out = s.c_in;
  c.kh = s.kh;
  c.kw = s.kw;
  c.stride_h = s.stride_h;
  c.stride_w = s.stride_w;
  // output_padding rows lie past the last window start but may still be covered by
  // windows when padding > 0; symmetric conv padding gives exactly H_in outputs.
  c.pad_top = c.pad_bottom = s.pad_h;
  c.pad_left = c.pad_right = s.pad_w;
  c.dilation_h = s.dilation_h;
  c.dilation_w = s.dilation_w;
  c.groups = 1;
  return c;
}

}  // namespace glia::kernels
