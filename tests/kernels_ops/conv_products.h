// The direct-loop walk over a convolution's products that the convolution tests build
// their double-precision references from (conv_ops_test.cpp, library_16bit_ops_test.cpp,
// tests/kernels_conv/conv2d_half_test.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/conv2d.h"

namespace glia::test::ops {

// Calls fn(x_index, w_index, y_index) for every (input, weight, output) product of a
// conv2d. A transposed conv is the same sum read the other way (its x is this y).
template <class Fn>
void for_each_product(const kernels::Conv2dShape& s, Fn&& fn) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cig = s.c_in / s.groups, cog = s.c_out / s.groups;
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t ow = 0; ow < wo; ++ow)
          for (int64_t ci = 0; ci < cig; ++ci)
            for (int64_t r = 0; r < s.kh; ++r)
              for (int64_t q = 0; q < s.kw; ++q) {
                const int64_t ih = oh * s.stride_h - s.pad_top + r * s.dilation_h;
                const int64_t iw = ow * s.stride_w - s.pad_left + q * s.dilation_w;
                if (ih < 0 || ih >= s.h_in || iw < 0 || iw >= s.w_in) continue;
                const int64_t cin = (co / cog) * cig + ci;
                fn(size_t(((b * s.c_in + cin) * s.h_in + ih) * s.w_in + iw),
                   size_t(((co * cig + ci) * s.kh + r) * s.kw + q), size_t(((b * s.c_out + co) * ho + oh) * wo + ow));
              }
}

}  // namespace glia::test::ops
