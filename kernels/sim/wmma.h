// nvcuda::wmma for the emulator: the warp matrix API (mma.h) as warp-collective
// operations, with CUDA's rules checked (included by cuda_dialect.h).
//
// Shapes: m16n16k16 with __half or __nv_bfloat16 inputs and float (or __half)
// accumulators, row- or column-major operands; the accumulator's memory layout is picked
// per load/store (mem_row_major / mem_col_major), as in CUDA.
//
// load_matrix_sync, store_matrix_sync and mma_sync are warp collectives, like the
// shuffles (warp.cpp): each lane parks with its arguments; the last lane of the warp to
// arrive checks that all 32 made the same call (same operation and fragment types, same
// pointer, ldm and layout) and does the whole warp's work: reads the 16 x 16 tile into
// every lane's fragment, multiplies, or writes the tile. CUDA's rules, each a glia::Error
// naming the kernel, block, thread and lane: the warp must be whole (all 32 lanes exist
// and none has finished), the pointer 256-bit (32-byte) aligned, ldm a multiple of 16
// bytes (8 elements of a 16-bit type, 4 of float), every lane the same call.
// fill_fragment is per thread (CUDA documents it as usually called by every lane with the
// same value, which is what makes it mean "fill the matrix").
//
// Which matrix element lives in which lane's x[i] is unspecified in CUDA (and differs
// between architectures), so the emulator draws the mapping per launch from the schedule
// seed (GLIA_SIM_SEED) and a launch counter: a kernel that treats x[i] as a particular
// row or column gets different, wrong results; one applying the same operation to every
// x[i] is right under every mapping. num_elements is CUDA's for sm_80: 16 for __half
// matrix_a/matrix_b fragments (every element held twice), 8 for the others.
//
// Arithmetic: products of 16-bit inputs are exact in float; mma_sync adds them to C in
// float, k = 0..15 in order (a GPU's tensor core sums in an unspecified order, with
// similar error). A __half accumulator is rounded once, after the sum.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/sim/half_types.h"

namespace glia::sim::detail {

// One lane's part in a warp collective: what every lane must agree on, and where its own
// fragments are. `compute` is run by the last lane to arrive, with all 32 lanes' args.
struct WarpCollective {
  const char* op;
  void (*compute)(const WarpCollective* const* lanes, uint64_t layout_seed);
  const void* ptr;      // memory operand (load/store), else null
  unsigned ldm;
  int layout;           // 0 row-major, 1 column-major, -1 none
  unsigned ldm_multiple;  // elements: 8 for 16-bit types, 4 for float
  void* frag[4];        // this lane's fragments (d, a, b, c for mma; one for load/store)
};

// Implemented in warp.cpp: checks, parks, and runs `compute` in the last lane to arrive.
void warp_collective(const WarpCollective& call);

// The per-launch slot -> element mapping of a fragment kind: entry s (lane s / E, x[s % E])
// holds element (entry % 256) of the 16 x 16 tile, row-major. `kind` separates fragment
// kinds (matrix_a, matrix_b, accumulator, and the element count E).
const uint16_t* fragment_layout(int kind, int elements_per_lane, uint64_t layout_seed);

}  // namespace glia::sim::detail

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace sim_detail {
template <class Use, class T>
constexpr int elements_per_lane() {
  return (std::is_same<T, __half>::value && !std::is_same<Use, accumulator>::value) ? 16 : 8;
}
template <class Use>
constexpr int use_id() {
  return std::is_same<Use, matrix_a>::value ? 0 : std::is_same<Use, matrix_b>::value ? 1 : 2;
}
template <class L>
constexpr int layout_id() {
  return std::is_same<L, row_major>::value ? 0 : 1;
}
template <class T>
inline float to_float(T v) {
  return static_cast<float>(v);
}
}  // namespace sim_detail

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(M == 16 && N == 16 && K == 16, "sim: wmma emulates the m16n16k16 shape only");
  static_assert(std::is_same<Use, matrix_a>::value || std::is_same<Use, matrix_b>::value ||
                    std::is_same<Use, accumulator>::value,
                "sim: fragment use must be matrix_a, matrix_b or accumulator");
  static_assert(std::is_same<Use, accumulator>::value ? (std::is_same<T, float>::value || std::is_same<T, __half>::value)
                                                      : (std::is_same<T, __half>::value || std::is_same<T, __nv_bfloat16>::value),
                "sim: wmma fragments: matrix_a/matrix_b of __half or __nv_bfloat16, accumulator of float or __half");
  static_assert(std::is_same<Use, accumulator>::value ? std::is_same<Layout, void>::value
                                                      : (std::is_same<Layout, row_major>::value || std::is_same<Layout, col_major>::value),
                "sim: matrix_a/matrix_b fragments need row_major or col_major; an accumulator has none");

 public:
  using element_type = T;
  using storage_element_type = T;
  static constexpr int num_elements = sim_detail::elements_per_lane<Use, T>();
  // The layout key of this fragment kind (wmma.h, fragment_layout).
  static constexpr int kind = sim_detail::use_id<Use>() * 2 + (num_elements == 16 ? 1 : 0);
  T x[num_elements];
};

template <class Use, int M, int N, int K, class T, class Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const T& v) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = v;
}
// fill_fragment(acc, 0.0f) on a float fragment, and conversions for 16-bit ones.
template <class Use, int M, int N, int K, class T, class Layout, class V,
          class = std::enable_if_t<!std::is_same<std::decay_t<V>, T>::value>>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& v) {
  fill_fragment(f, static_cast<T>(static_cast<float>(v)));
}

namespace sim_detail {
using ::glia::sim::detail::WarpCollective;

// Element (r, c) of a 16 x 16 tile at `ptr`, stored row- or column-major with stride ldm.
template <class T>
inline T& at(T* ptr, unsigned ldm, int layout, int r, int c) {
  return layout == 0 ? ptr[static_cast<size_t>(r) * ldm + c] : ptr[static_cast<size_t>(c) * ldm + r];
}

template <class Frag>
void load_compute(const WarpCollective* const* lanes, uint64_t seed) {
  using T = typename Frag::element_type;
  constexpr int E = Frag::num_elements;
  const uint16_t* map = ::glia::sim::detail::fragment_layout(Frag::kind, E, seed);
  const WarpCollective& c0 = *lanes[0];
  T* ptr = static_cast<T*>(const_cast<void*>(c0.ptr));
  for (int s = 0; s < 32 * E; ++s) {
    int e = map[s] % 256;
    static_cast<Frag*>(lanes[s / E]->frag[0])->x[s % E] = at(ptr, c0.ldm, c0.layout, e / 16, e % 16);
  }
}

template <class Frag>
void store_compute(const WarpCollective* const* lanes, uint64_t seed) {
  using T = typename Frag::element_type;
  constexpr int E = Frag::num_elements;
  const uint16_t* map = ::glia::sim::detail::fragment_layout(Frag::kind, E, seed);
  const WarpCollective& c0 = *lanes[0];
  T* ptr = static_cast<T*>(const_cast<void*>(c0.ptr));
  for (int s = 0; s < 32 * E; ++s) {
    int e = map[s] % 256;
    if (map[s] >= 256) continue;  // a duplicate slot: the element is written once
    at(ptr, c0.ldm, c0.layout, e / 16, e % 16) = static_cast<const Frag*>(lanes[s / E]->frag[0])->x[s % E];
  }
}

// The 16 x 16 tile a fragment kind holds across the warp, as floats (row-major).
template <class Frag>
void gather(const WarpCollective* const* lanes, int which, uint64_t seed, float* tile) {
  constexpr int E = Frag::num_elements;
  const uint16_t* map = ::glia::sim::detail::fragment_layout(Frag::kind, E, seed);
  for (int s = 0; s < 32 * E; ++s) {
    if (map[s] >= 256) continue;
    tile[map[s]] = to_float(static_cast<const Frag*>(lanes[s / E]->frag[which])->x[s % E]);
  }
}

template <class FragD, class FragA, class FragB, class FragC, bool kSatf>
void mma_compute(const WarpCollective* const* lanes, uint64_t seed) {
  float a[256], b[256], c[256];
  gather<FragA>(lanes, 1, seed, a);
  gather<FragB>(lanes, 2, seed, b);
  gather<FragC>(lanes, 3, seed, c);
  float d[256];
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 16; ++n) {
      float acc = c[m * 16 + n];
      for (int k = 0; k < 16; ++k) acc = fmaf(a[m * 16 + k], b[k * 16 + n], acc);
      if (kSatf) acc = acc != acc ? 0.0f : (acc > FLT_MAX ? FLT_MAX : (acc < -FLT_MAX ? -FLT_MAX : acc));
      d[m * 16 + n] = acc;
    }
  }
  // Every lane's D is written only now: D may be the same fragment as C.
  using TD = typename FragD::element_type;
  constexpr int E = FragD::num_elements;
  const uint16_t* map = ::glia::sim::detail::fragment_layout(FragD::kind, E, seed);
  for (int s = 0; s < 32 * E; ++s) static_cast<FragD*>(lanes[s / E]->frag[0])->x[s % E] = static_cast<TD>(d[map[s] % 256]);
}

template <class T>
constexpr unsigned ldm_multiple() {
  return sizeof(T) == 2 ? 8u : 4u;
}
}  // namespace sim_detail

template <class Use, class T, class Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* ptr, unsigned ldm) {
  static_assert(!std::is_same<Use, accumulator>::value, "sim: loading an accumulator needs a layout_t");
  using Frag = fragment<Use, 16, 16, 16, T, Layout>;
  ::glia::sim::detail::WarpCollective call{"wmma::load_matrix_sync", &sim_detail::load_compute<Frag>, ptr, ldm,
                                           sim_detail::layout_id<Layout>(), sim_detail::ldm_multiple<T>(),
                                           {&f, nullptr, nullptr, nullptr}};
  ::glia::sim::detail::warp_collective(call);
}

template <class T>
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, T>& f, const T* ptr, unsigned ldm, layout_t layout) {
  using Frag = fragment<accumulator, 16, 16, 16, T>;
  ::glia::sim::detail::WarpCollective call{"wmma::load_matrix_sync", &sim_detail::load_compute<Frag>, ptr, ldm,
                                           static_cast<int>(layout), sim_detail::ldm_multiple<T>(),
                                           {&f, nullptr, nullptr, nullptr}};
  ::glia::sim::detail::warp_collective(call);
}

template <class T>
inline void store_matrix_sync(T* ptr, const fragment<accumulator, 16, 16, 16, T>& f, unsigned ldm, layout_t layout) {
  using Frag = fragment<accumulator, 16, 16, 16, T>;
  ::glia::sim::detail::WarpCollective call{"wmma::store_matrix_sync", &sim_detail::store_compute<Frag>, ptr, ldm,
                                           static_cast<int>(layout), sim_detail::ldm_multiple<T>(),
                                           {const_cast<Frag*>(&f), nullptr, nullptr, nullptr}};
  ::glia::sim::detail::warp_collective(call);
}

template <class TAB, class LA, class LB, class TC>
inline void mma_sync(fragment<accumulator, 16, 16, 16, TC>& d, const fragment<matrix_a, 16, 16, 16, TAB, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, TAB, LB>& b, const fragment<accumulator, 16, 16, 16, TC>& c,
                     bool satf = false) {
  using FA = fragment<matrix_a, 16, 16, 16, TAB, LA>;
  using FB = fragment<matrix_b, 16, 16, 16, TAB, LB>;
  using FC = fragment<accumulator, 16, 16, 16, TC>;
  auto compute = satf ? &sim_detail::mma_compute<FC, FA, FB, FC, true> : &sim_detail::mma_compute<FC, FA, FB, FC, false>;
  ::glia::sim::detail::WarpCollective call{
      "wmma::mma_sync", compute, nullptr, 0, -1, 0,
      {&d, const_cast<FA*>(&a), const_cast<FB*>(&b), const_cast<FC*>(&c)}};
  ::glia::sim::detail::warp_collective(call);
}

}  // namespace wmma
}  // namespace nvcuda
