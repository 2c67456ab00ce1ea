// CUDA's built-in vector types for the SIMT emulator, written out so that sim never needs
// the CUDA toolkit's headers. Layout and alignment match CUDA's (float4 and int4 are
// 16-byte aligned, float2 8-byte), so reinterpret_cast<float4*> behaves as on a GPU.
// Global namespace, as in CUDA.
#pragma once

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}  // NOLINT: implicit, as in CUDA
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

#define GLIA_SIM_VECTOR2(T, name, align)                                           \
  struct alignas(align) name {                                                     \
    T x, y;                                                                        \
  };                                                                               \
  inline constexpr name make_##name(T x, T y) { return name{x, y}; }
#define GLIA_SIM_VECTOR3(T, name)                                                  \
  struct name {                                                                    \
    T x, y, z;                                                                     \
  };                                                                               \
  inline constexpr name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define GLIA_SIM_VECTOR4(T, name, align)                                           \
  struct alignas(align) name {                                                     \
    T x, y, z, w;                                                                  \
  };                                                                               \
  inline constexpr name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

GLIA_SIM_VECTOR2(float, float2, 8)
GLIA_SIM_VECTOR3(float, float3)
GLIA_SIM_VECTOR4(float, float4, 16)
GLIA_SIM_VECTOR2(int, int2, 8)
GLIA_SIM_VECTOR3(int, int3)
GLIA_SIM_VECTOR4(int, int4, 16)
GLIA_SIM_VECTOR2(unsigned, uint2, 8)
GLIA_SIM_VECTOR4(unsigned, uint4, 16)
GLIA_SIM_VECTOR2(double, double2, 16)
GLIA_SIM_VECTOR2(long long, longlong2, 16)
GLIA_SIM_VECTOR4(unsigned char, uchar4, 4)
GLIA_SIM_VECTOR4(signed char, char4, 4)

#undef GLIA_SIM_VECTOR2
#undef GLIA_SIM_VECTOR3
#undef GLIA_SIM_VECTOR4

inline constexpr uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }
