// nvcuda::wmma in the emulator (kernels/sim/wmma.h): products against a double reference
// for every input type and layout, the unspecified element-to-lane mapping (a kernel
// relying on one must fail; uniform elementwise work must not), and CUDA's rules for the
// warp collectives, each breach an error naming kernel, block and lane.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "tests/sim/sim_test_util.h"

namespace {

using namespace nvcuda;
using glia::sim_test::CheckedScope;
using glia::sim_test::expect_error;
using glia::sim_test::SimBuffer;

// D = A * B + C for one 16 x 16 x 16 tile: A and B with leading dimension `ld`, C read in
// `c_layout`, D written row-major (ldm 16). Runs the mma twice into the same fragment
// (D aliasing C) when `twice`: D = A*B + (A*B + C).
template <class T, class LA, class LB>
__global__ void tile_mma(const T* a, const T* b, const float* c, float* d, unsigned ld, wmma::layout_t c_layout, bool twice) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LA> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LB> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, a, ld);
  wmma::load_matrix_sync(fb, b, ld);
  wmma::load_matrix_sync(acc, c, 16, c_layout);
  wmma::mma_sync(acc, fa, fb, acc);
  if (twice) wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

// Memory for one tile problem, 32-byte aligned as WMMA requires (ld 24: padded rows).
template <class T>
struct TileData {
  static constexpr unsigned kLd = 24;
  alignas(32) T a[16 * kLd];
  alignas(32) T b[16 * kLd];
  alignas(32) float c[256];
  alignas(32) float d[256];
};

template <class T>
float to_f(T v) {
  return static_cast<float>(v);
}

// Element (r, c) of a tile stored row- or column-major.
template <class T>
T& at(T* p, unsigned ld, bool row_major, int r, int c) {
  return row_major ? p[r * ld + c] : p[c * ld + r];
}

template <class T, class LA, class LB>
void check_tile_mma(bool c_row_major, bool twice) {
  constexpr bool a_row = std::is_same<LA, wmma::row_major>::value, b_row = std::is_same<LB, wmma::row_major>::value;
  auto data = std::make_unique<TileData<T>>();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (auto& v : data->a) v = T(u(rng));
  for (auto& v : data->b) v = T(u(rng));
  for (auto& v : data->c) v = u(rng);
  const unsigned ld = TileData<T>::kLd;
  GLIA_LAUNCH((tile_mma<T, LA, LB>), 1, 32, 0, data->a, data->b, data->c, data->d, ld,
              c_row_major ? wmma::mem_row_major : wmma::mem_col_major, twice);
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < 16; ++n) {
      double prod = 0, mag = 0;
      for (int k = 0; k < 16; ++k) {
        double p = double(to_f(at(data->a, ld, a_row, m, k))) * double(to_f(at(data->b, ld, b_row, k, n)));
        prod += p, mag += std::fabs(p);
      }
      double c = at(data->c, 16, c_row_major, m, n);
      double want = c + (twice ? 2 : 1) * prod;
      // float accumulation of exact products: at most ~(k + 1) roundings of 2^-24 each.
      double bound = 34 * std::ldexp(1.0, -24) * (std::fabs(c) + (twice ? 2 : 1) * mag) + 1e-30;
      EXPECT_NEAR(data->d[m * 16 + n], want, bound) << "m=" << m << " n=" << n;
    }
  }
}

TEST(SimWmma, MmaMatchesDoubleReferenceForEveryTypeAndLayout) {
  check_tile_mma<__nv_bfloat16, wmma::row_major, wmma::row_major>(true, false);
  check_tile_mma<__nv_bfloat16, wmma::col_major, wmma::col_major>(false, false);
  check_tile_mma<__nv_bfloat16, wmma::row_major, wmma::col_major>(true, true);
  check_tile_mma<__half, wmma::col_major, wmma::row_major>(false, true);
  check_tile_mma<__half, wmma::row_major, wmma::row_major>(true, false);
}

TEST(SimWmma, FragmentSizesAreCudas) {
  EXPECT_EQ((wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>::num_elements), 8);
  EXPECT_EQ((wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major>::num_elements), 16);
  EXPECT_EQ((wmma::fragment<wmma::accumulator, 16, 16, 16, float>::num_elements), 8);
}

// ---- the element-to-lane mapping --------------------------------------------------------
// Uniform work on every x[i] (what CUDA allows): 2c + 1 whatever the mapping.
__global__ void scale_every_element(const float* c, float* d) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  for (int i = 0; i < acc.num_elements; ++i) acc.x[i] = acc.x[i] * 2.0f + 1.0f;
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

// Relies on a layout: scales x[i] by i, as if x[i] were column i of some row.
__global__ void scale_by_index(const float* c, float* d) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  for (int i = 0; i < acc.num_elements; ++i) acc.x[i] *= static_cast<float>(i);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

// Relies on a layout: lane 0's x[0] read as element (0, 0).
__global__ void read_first_element(const float* c, float* out) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  if (threadIdx.x == 0) *out = acc.x[0];
}

struct alignas(32) Tile {
  float v[256];
};

TEST(SimWmma, UniformElementwiseWorkIsRightUnderEveryLaunchesMapping) {
  Tile c, d;
  for (int i = 0; i < 256; ++i) c.v[i] = static_cast<float>(i);
  for (int launch = 0; launch < 4; ++launch) {
    GLIA_LAUNCH(scale_every_element, 1, 32, 0, c.v, d.v);
    for (int i = 0; i < 256; ++i) ASSERT_EQ(d.v[i], 2.0f * i + 1.0f) << "launch " << launch << " element " << i;
  }
}

TEST(SimWmma, AKernelRelyingOnTheLayoutGetsWrongAndChangingResults) {
  Tile c, d;
  for (int i = 0; i < 256; ++i) c.v[i] = static_cast<float>(i);  // every element distinct
  std::set<float> firsts;
  std::set<std::vector<float>> scaled;
  for (int launch = 0; launch < 8; ++launch) {
    float first = -1;
    GLIA_LAUNCH(read_first_element, 1, 32, 0, c.v, &first);
    firsts.insert(first);
    GLIA_LAUNCH(scale_by_index, 1, 32, 0, c.v, d.v);
    scaled.insert(std::vector<float>(d.v, d.v + 256));
  }
  // Eight launches, eight mappings: "x[0] is element (0,0)" holds in at most one of them
  // by chance, and the index-scaled tile differs between launches.
  EXPECT_GE(firsts.size(), 6u);
  EXPECT_GE(scaled.size(), 7u);
}

// ---- CUDA's rules ------------------------------------------------------------------------
struct alignas(32) Operands {
  __nv_bfloat16 a[64 * 16];
  float c[64 * 16];
};

__global__ void misaligned_load(const __nv_bfloat16* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a + 8, 16);  // 16 bytes past a 32-byte boundary
}

__global__ void bad_ldm_load(const __nv_bfloat16* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 20);  // 40 bytes: not a multiple of 16
}

__global__ void lanes_disagree_on_pointer(const __nv_bfloat16* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a + (threadIdx.x >= 16 ? 16 : 0), 32);  // both 32-byte aligned
}

__global__ void lanes_disagree_on_layout(float* c) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 1.0f);
  wmma::store_matrix_sync(c, acc, 16, threadIdx.x == 7 ? wmma::mem_col_major : wmma::mem_row_major);
}

__global__ void half_the_warp_loads(const __nv_bfloat16* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  if (threadIdx.x < 16) wmma::load_matrix_sync(fa, a, 16);
}

__global__ void load_or_store(float* c) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  if (threadIdx.x == 3) {
    wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
  } else {
    wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  }
}

__global__ void wmma_in_partial_warp(const __nv_bfloat16* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 16);
}

__global__ void wmma_beside_shuffle(const __nv_bfloat16* a, int* out) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
  if (threadIdx.x == 31) {
    out[0] = __shfl_sync(0xffffffffu, 1, 0);
  } else {
    wmma::load_matrix_sync(fa, a, 16);
  }
}

class SimWmmaRules : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto& v : ops.a) v = __float2bfloat16(1.0f);
    for (auto& v : ops.c) v = 0.0f;
  }
  Operands ops;
};

TEST_F(SimWmmaRules, AMisalignedPointerIsAnErrorNamingKernelBlockAndLane) {
  expect_error([&] { GLIA_LAUNCH(misaligned_load, 1, 32, 0, ops.a); },
               {"kernel 'misaligned_load'", "block (0,0,0)", "lane ", "256-bit (32-byte) aligned"});
}

TEST_F(SimWmmaRules, LdmMustBeAMultipleOf16Bytes) {
  expect_error([&] { GLIA_LAUNCH(bad_ldm_load, 1, 32, 0, ops.a); },
               {"kernel 'bad_ldm_load'", "block (0,0,0)", "lane ", "ldm 20", "multiple of 8"});
}

TEST_F(SimWmmaRules, EveryLaneMustPassTheSamePointer) {
  expect_error([&] { GLIA_LAUNCH(lanes_disagree_on_pointer, 1, 32, 0, ops.a); },
               {"kernel 'lanes_disagree_on_pointer'", "thread (16,0,0) (lane 16)", "pointer", "same wmma call"});
}

TEST_F(SimWmmaRules, EveryLaneMustPassTheSameLayout) {
  expect_error([&] { GLIA_LAUNCH(lanes_disagree_on_layout, 1, 32, 0, ops.c); },
               {"kernel 'lanes_disagree_on_layout'", "(lane 7)", "layout column-major", "same wmma call"});
}

TEST_F(SimWmmaRules, ACallMadeByHalfTheWarpIsAnError) {
  expect_error([&] { GLIA_LAUNCH(half_the_warp_loads, 1, 32, 0, ops.a); },
               {"kernel 'half_the_warp_loads'", "block (0,0,0)", "wmma::load_matrix_sync"});
}

TEST_F(SimWmmaRules, LanesInDifferentWmmaCallsAreAnError) {
  expect_error([&] { GLIA_LAUNCH(load_or_store, 1, 32, 0, ops.c); },
               {"kernel 'load_or_store'", "lane ", "same wmma call"});
}

TEST_F(SimWmmaRules, APartialWarpCannotUseWmma) {
  expect_error([&] { GLIA_LAUNCH(wmma_in_partial_warp, 1, 48, 0, ops.a); },
               {"kernel 'wmma_in_partial_warp'", "thread (32,0,0) (lane 0)", "all 32 lanes"});
}

TEST_F(SimWmmaRules, AShuffleMeetingAWmmaCallIsAnError) {
  int out = 0;
  expect_error([&] { GLIA_LAUNCH(wmma_beside_shuffle, 1, 32, 0, ops.a, &out); },
               {"kernel 'wmma_beside_shuffle'", "block (0,0,0)"});
}

TEST(SimWmmaChecked, TileMmaPassesCheckedModeWithGuardedBuffers) {
  CheckedScope checked;
  SimBuffer<__nv_bfloat16> a(256), b(256);
  SimBuffer<float> c(256), d(256);
  for (int i = 0; i < 256; ++i) {
    a[i] = __float2bfloat16(static_cast<float>(i % 7) - 3.0f);
    b[i] = __float2bfloat16(static_cast<float>(i % 5) - 2.0f);
    c[i] = 1.0f;
  }
  GLIA_LAUNCH((tile_mma<__nv_bfloat16, wmma::row_major, wmma::row_major>), 1, 32, 0, a.get(), b.get(), c.get(), d.get(),
              16u, wmma::mem_row_major, false);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float want = 1.0f;
      for (int k = 0; k < 16; ++k) want += float(a[m * 16 + k]) * float(b[k * 16 + n]);
      EXPECT_EQ(d[m * 16 + n], want);  // small integers: exact
    }
  // Reading one row past a 256-element buffer: the guard page names the kernel.
  expect_error([&] {
    GLIA_LAUNCH((tile_mma<__nv_bfloat16, wmma::row_major, wmma::row_major>), 1, 32, 0, a.get(), b.get(), c.get(),
                d.get(), 24u, wmma::mem_row_major, false);
  }, {"tile_mma<", "invalid memory access"});
}

}  // namespace
