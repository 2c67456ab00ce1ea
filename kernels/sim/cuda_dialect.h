// The CUDA dialect for the host compiler: what a kernels/cuda/*.cu file needs to compile
// as plain C++ and run under the SIMT emulator. Needs no CUDA toolkit header.
//
// Included first by the generated wrapper of every .cu file (kernels/CMakeLists.txt) and
// by tests that write kernels in .cpp files. Defines, in the global namespace as CUDA
// does: the qualifiers (defined away), __shared__, the index registers, barriers, warp
// shuffles and votes, atomics, vector types, and the math intrinsics kernels use.
#pragma once

// Standard headers first: the qualifier macros below (__noinline__ in particular,
// which libstdc++ spells inside __attribute__) must not reach them.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/sim/launch.h"
#include "kernels/sim/thread_state.h"
#include "kernels/sim/vector_types.h"

// ---- qualifiers ------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) alignas(n)
#define __launch_bounds__(...)
// Per block: all fibers of a block run on one worker thread, and a worker runs one block
// at a time, so a thread_local is shared by exactly the threads of one block. The one-byte
// marker declared alongside lets the emulator find the function's shared variables in the
// symbol table and poison them at the start of every block (shared_memory.h).
#define GLIA_SIM_CAT2_(a, b) a##b
#define GLIA_SIM_CAT_(a, b) GLIA_SIM_CAT2_(a, b)
#define __shared__                                                                                  \
  GLIA_SIM_TLS static thread_local __attribute__((used)) char GLIA_SIM_CAT_(glia_sim_shared_mark_, __COUNTER__); \
  GLIA_SIM_TLS static thread_local

// ---- registers ---------------------------------------------------------------------------
#define threadIdx (static_cast<const uint3&>(::glia::sim::detail::t_registers.thread_idx))
#define blockIdx (static_cast<const uint3&>(::glia::sim::detail::t_registers.block_idx))
#define blockDim (static_cast<const dim3&>(::glia::sim::detail::t_registers.block_dim))
#define gridDim (static_cast<const dim3&>(::glia::sim::detail::t_registers.grid_dim))
constexpr int warpSize = 32;

namespace glia::sim::detail {
// Implemented in kernels/sim/block.cpp and warp.cpp; each may suspend the calling fiber.
int block_barrier(const char* op, int predicate);     // returns how many threads had predicate != 0
uint64_t warp_shuffle(const char* op, unsigned mask, uint64_t value, unsigned src_lane);
unsigned warp_ballot(const char* op, unsigned mask, bool predicate);
unsigned active_lanes(const char* file, int line);     // lanes of the caller's warp at the same call
unsigned warp_members(unsigned mask);                 // mask & the lanes that exist in the caller's warp

inline unsigned lane_id() {
  const ThreadRegisters& r = t_registers;
  unsigned linear = r.thread_idx.x + r.block_dim.x * (r.thread_idx.y + r.block_dim.y * r.thread_idx.z);
  return linear & 31u;
}

template <class T>
T shuffle_from(const char* op, unsigned mask, T var, unsigned src_lane) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "sim: shuffles move values of up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bits = warp_shuffle(op, mask, bits, src_lane);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}

[[noreturn]] void bad_width(const char* op, int width);
inline unsigned checked_width(const char* op, int width) {
  if (width <= 0 || width > 32 || (width & (width - 1)) != 0) bad_width(op, width);
  return static_cast<unsigned>(width);
}
}  // namespace glia::sim::detail

// ---- barriers --------------------------------------------------------------------------
inline void __syncthreads() { ::glia::sim::detail::block_barrier("__syncthreads()", 0); }
inline int __syncthreads_count(int p) { return ::glia::sim::detail::block_barrier("__syncthreads_count()", p != 0); }
inline int __syncthreads_and(int p) {
  return ::glia::sim::detail::block_barrier("__syncthreads_and()", p != 0) ==
         static_cast<int>(blockDim.x * blockDim.y * blockDim.z);
}
inline int __syncthreads_or(int p) { return ::glia::sim::detail::block_barrier("__syncthreads_or()", p != 0) > 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::glia::sim::detail::warp_ballot("__syncwarp()", mask, false); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- warp shuffles and votes (CUDA semantics: every lane named by the mask must make
// the same call; the caller must be in the mask; width splits the warp into groups) -----
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  unsigned w = ::glia::sim::detail::checked_width("__shfl_sync", width);
  unsigned lane = ::glia::sim::detail::lane_id();
  unsigned src = (lane & ~(w - 1)) + (static_cast<unsigned>(src_lane) & (w - 1));
  return ::glia::sim::detail::shuffle_from("__shfl_sync", mask, var, src);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  unsigned w = ::glia::sim::detail::checked_width("__shfl_up_sync", width);
  unsigned lane = ::glia::sim::detail::lane_id();
  unsigned src = (lane & (w - 1)) >= delta ? lane - delta : lane;  // below the group: own value
  return ::glia::sim::detail::shuffle_from("__shfl_up_sync", mask, var, src);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  unsigned w = ::glia::sim::detail::checked_width("__shfl_down_sync", width);
  unsigned lane = ::glia::sim::detail::lane_id();
  unsigned src = (lane & (w - 1)) + delta < w ? lane + delta : lane;  // past the group: own value
  return ::glia::sim::detail::shuffle_from("__shfl_down_sync", mask, var, src);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  unsigned w = ::glia::sim::detail::checked_width("__shfl_xor_sync", width);
  unsigned lane = ::glia::sim::detail::lane_id();
  unsigned src = lane ^ static_cast<unsigned>(lane_mask);
  if ((src & ~(w - 1)) > (lane & ~(w - 1)) || src > 31) src = lane;  // a later group: own value
  return ::glia::sim::detail::shuffle_from("__shfl_xor_sync", mask, var, src);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return ::glia::sim::detail::warp_ballot("__ballot_sync", mask, predicate != 0);
}
inline int __any_sync(unsigned mask, int predicate) {
  return ::glia::sim::detail::warp_ballot("__any_sync", mask, predicate != 0) != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
  // Every lane of the mask that exists in the warp voted yes.
  unsigned votes = ::glia::sim::detail::warp_ballot("__all_sync", mask, predicate != 0);
  return votes == ::glia::sim::detail::warp_members(mask);
}
// The lanes of the caller's warp that reach this same call (file and line) before any
// of them continues: those in the caller's branch (see kernels/sim/README.md).
inline unsigned __activemask(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::glia::sim::detail::active_lanes(file, line);
}

// ---- atomics (relaxed, as CUDA's; real atomics because blocks run on several workers) ---
namespace glia::sim::detail {
template <class T, class F>
T atomic_update(T* address, F&& update) {
  t_atomics_used = true;
  T expected;
  __atomic_load(address, &expected, __ATOMIC_RELAXED);
  T desired;
  do {
    desired = update(expected);
  } while (!__atomic_compare_exchange(address, &expected, &desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return expected;
}
}  // namespace glia::sim::detail

#define GLIA_SIM_INTEGER_ATOMICS(T)                                                                 \
  inline T atomicAdd(T* a, T v) { return ::glia::sim::detail::t_atomics_used = true, __atomic_fetch_add(a, v, __ATOMIC_RELAXED); } \
  inline T atomicSub(T* a, T v) { return ::glia::sim::detail::t_atomics_used = true, __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); } \
  inline T atomicAnd(T* a, T v) { return ::glia::sim::detail::t_atomics_used = true, __atomic_fetch_and(a, v, __ATOMIC_RELAXED); } \
  inline T atomicOr(T* a, T v) { return ::glia::sim::detail::t_atomics_used = true, __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }   \
  inline T atomicXor(T* a, T v) { return ::glia::sim::detail::t_atomics_used = true, __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); } \
  inline T atomicExch(T* a, T v) { return ::glia::sim::detail::t_atomics_used = true, __atomic_exchange_n(a, v, __ATOMIC_RELAXED); } \
  inline T atomicMax(T* a, T v) {                                                                  \
    return ::glia::sim::detail::atomic_update(a, [v](T old) { return old > v ? old : v; });         \
  }                                                                                                 \
  inline T atomicMin(T* a, T v) {                                                                  \
    return ::glia::sim::detail::atomic_update(a, [v](T old) { return old < v ? old : v; });         \
  }                                                                                                 \
  inline T atomicCAS(T* a, T compare, T v) {                                                       \
    ::glia::sim::detail::t_atomics_used = true;                                                    \
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);         \
    return compare;                                                                                 \
  }
GLIA_SIM_INTEGER_ATOMICS(int)
GLIA_SIM_INTEGER_ATOMICS(unsigned)
GLIA_SIM_INTEGER_ATOMICS(unsigned long long)
GLIA_SIM_INTEGER_ATOMICS(long long)
#undef GLIA_SIM_INTEGER_ATOMICS

inline float atomicAdd(float* a, float v) {
  return ::glia::sim::detail::atomic_update(a, [v](float old) { return old + v; });
}
inline double atomicAdd(double* a, double v) {
  return ::glia::sim::detail::atomic_update(a, [v](double old) { return old + v; });
}
inline float atomicExch(float* a, float v) {
  ::glia::sim::detail::t_atomics_used = true;
  float old;
  __atomic_exchange(a, &v, &old, __ATOMIC_RELAXED);
  return old;
}
inline unsigned atomicInc(unsigned* a, unsigned limit) {
  return ::glia::sim::detail::atomic_update(a, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  return ::glia::sim::detail::atomic_update(
      a, [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}

// ---- math and intrinsics -----------------------------------------------------------------
using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;

#define GLIA_SIM_MIN_MAX(T)                                   \
  inline T min(T a, T b) { return b < a ? b : a; }            \
  inline T max(T a, T b) { return a < b ? b : a; }
GLIA_SIM_MIN_MAX(int)
GLIA_SIM_MIN_MAX(unsigned)
GLIA_SIM_MIN_MAX(long)
GLIA_SIM_MIN_MAX(unsigned long)
GLIA_SIM_MIN_MAX(long long)
GLIA_SIM_MIN_MAX(unsigned long long)
#undef GLIA_SIM_MIN_MAX
// Floating point min/max follow fminf/fmaxf (a NaN argument loses), as CUDA's do.
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x != x ? 0.0f : x)); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x), *c = cosf(x); }
inline float exp10f(float x) { return powf(10.0f, x); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }

inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline float __int2float_rn(int i) { return static_cast<float>(i); }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}

template <class T>
inline T __ldg(const T* p) {
  return *p;
}

// ---- 16-bit floats (cuda_fp16.h, cuda_bf16.h) and the warp matrix API (mma.h) ---------
#include "kernels/sim/half_types.h"
#include "kernels/sim/wmma.h"
// ---- cp.async (cuda_pipeline_primitives.h) ----------------------------------------------
#include "kernels/sim/pipeline.h"
