// CPU strided copy with dtype conversion. Dims are coalesced first, so a contiguous copy
// becomes one row (memcpy when the dtype is unchanged) and views copy row by row.
#include <cstring>

#include "kernels/copy.h"
#include "kernels/cpu/dispatch.h"

namespace glia::kernels::cpu {
namespace {

template <class S, class D>
void copy_loop(const CopyParams& p) {
  int64_t sizes[kMaxDims], ss[kMaxDims], ds[kMaxDims];
  for (int d = 0; d < p.ndim; ++d) {
    sizes[d] = p.sizes[d];
    ss[d] = p.src_strides[d];
    ds[d] = p.dst_strides[d];
  }
  const int ndim = coalesce_dims(p.ndim, sizes, {ss, ds});
  const S* src = static_cast<const S*>(p.src);
  D* dst = static_cast<D*>(p.dst);
  const int64_t s_in = ss[ndim - 1], d_in = ds[ndim - 1];
  for_each_row(ndim, sizes, p.numel, [&](int64_t begin, int64_t end, int64_t row) {
    const S* s = src + row_offset(ndim, sizes, ss, row) + begin * s_in;
    D* d = dst + row_offset(ndim, sizes, ds, row) + begin * d_in;
    const int64_t n = end - begin;
    if constexpr (std::is_same_v<S, D>) {
      if (s_in == 1 && d_in == 1) {
        std::memcpy(d, s, static_cast<size_t>(n) * sizeof(S));
        return;
      }
    }
    if (s_in == 1 && d_in == 1) {
      for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * d_in] = static_cast<D>(s[i * s_in]);
    }
  });
}

}  // namespace

void copy(const CopyParams& p) {
  GLIA_CHECK(p.ndim >= 0 && p.ndim <= kMaxDims, "cpu kernel 'copy': ndim " << p.ndim << " outside [0, " << kMaxDims << "]");
  if (p.numel == 0) return;
  dispatch_all(p.src_dtype, "copy (source)", [&](auto src_tag) {
    dispatch_all(p.dst_dtype, "copy (destination)", [&](auto dst_tag) {
      copy_loop<typename decltype(src_tag)::type, typename decltype(dst_tag)::type>(p);
    });
  });
}

}  // namespace glia::kernels::cpu
