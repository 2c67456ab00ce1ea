// Generator and the random factories. Values are computed on the host from Philox
// counters and copied to the target device, so every device sees the same numbers.
#include "tensor/random.h"

#include <cmath>
#include <vector>

#include "kernels/philox.h"
#include "tensor/tensor.h"

namespace glia {

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = GeneratorState{seed, 0};
}

GeneratorState Generator::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void Generator::set_state(const GeneratorState& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = state;
}

GeneratorState Generator::reserve(uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  GeneratorState stream = state_;
  state_.offset += (count + 3) / 4;  // whole Philox blocks, so streams never overlap
  return stream;
}

Generator& default_generator() {
  static Generator g;
  return g;
}

namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Fills n values value(i, stream) in parallel; the result does not depend on threads.
template <class F>
std::vector<double> generate(int64_t n, uint64_t words_per_value, Generator* gen, F value) {
  GLIA_CHECK(n >= 0, "random: negative element count " << n);
  const GeneratorState s = pick(gen).reserve(static_cast<uint64_t>(n) * words_per_value);
  std::vector<double> out(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = value(static_cast<uint64_t>(i), s);
  return out;
}

void check_float(const char* op, DType dtype) {
  GLIA_CHECK(is_floating(dtype), op << ": needs a floating-point dtype, got " << dtype_name(dtype));
}

}  // namespace

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Device device, Generator* gen) {
  check_float("uniform", dtype);
  GLIA_CHECK(low <= high, "uniform: low " << low << " is above high " << high);
  auto v = generate(shape_numel(shape), 1, gen, [low, high](uint64_t i, const GeneratorState& s) {
    return low + (high - low) * static_cast<double>(philox_uniform(philox_bits(s.seed, s.offset, i)));
  });
  return from_vector(v, shape, dtype, device);
}

Tensor rand(const Shape& shape, DType dtype, Device device, Generator* gen) {
  return uniform(shape, 0, 1, dtype, device, gen);
}

Tensor normal(const Shape& shape, double mean, double stddev, DType dtype, Device device, Generator* gen) {
  check_float("normal", dtype);
  GLIA_CHECK(stddev >= 0, "normal: negative standard deviation " << stddev);
  // Box-Muller from two uniforms per value; u1 in (0, 1] so the log is finite.
  auto v = generate(shape_numel(shape), 2, gen, [mean, stddev](uint64_t i, const GeneratorState& s) {
    const double u1 = (static_cast<double>(philox_bits(s.seed, s.offset, 2 * i) >> 8) + 1.0) / 16777216.0;
    const double u2 = static_cast<double>(philox_uniform(philox_bits(s.seed, s.offset, 2 * i + 1)));
    return mean + stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
  return from_vector(v, shape, dtype, device);
}

Tensor randn(const Shape& shape, DType dtype, Device device, Generator* gen) {
  return normal(shape, 0, 1, dtype, device, gen);
}

Tensor bernoulli(const Shape& shape, double p, DType dtype, Device device, Generator* gen) {
  GLIA_CHECK(p >= 0 && p <= 1, "bernoulli: probability " << p << " is outside [0, 1]");
  auto v = generate(shape_numel(shape), 1, gen, [p](uint64_t i, const GeneratorState& s) {
    return static_cast<double>(philox_uniform(philox_bits(s.seed, s.offset, i))) < p ? 1.0 : 0.0;
  });
  return from_vector(v, shape, dtype, device);
}

Tensor randperm(int64_t n, Device device, Generator* gen) {
  GLIA_CHECK(n >= 0, "randperm: negative n " << n);
  const GeneratorState s = pick(gen).reserve(2 * static_cast<uint64_t>(n));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  // Fisher-Yates from the last element down; 64 random bits per swap make the modulo
  // bias negligible (< n / 2^64).
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t hi = philox_bits(s.seed, s.offset, 2 * static_cast<uint64_t>(i));
    const uint64_t lo = philox_bits(s.seed, s.offset, 2 * static_cast<uint64_t>(i) + 1);
    const auto j = static_cast<int64_t>(((hi << 32) | lo) % static_cast<uint64_t>(i + 1));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return from_vector(perm, {n}, device);
}

}  // namespace glia
