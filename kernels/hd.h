// GLIA_HD marks functions usable from host code and from CUDA kernels (nvcc and sim).
#pragma once
#if defined(__CUDACC__)
#define GLIA_HD __host__ __device__
#else
#define GLIA_HD
#endif
