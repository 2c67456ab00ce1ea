#include "tests/support/random_data.h"

#include <random>
#include <stdexcept>

namespace glia::test {

std::vector<double> random_doubles(size_t n, uint32_t seed, double lo, double hi, double min_abs) {
  if (!(lo < hi) || (min_abs > 0 && std::max(std::abs(lo), std::abs(hi)) <= min_abs))
    throw std::invalid_argument("random_doubles: empty range or no value with |v| >= min_abs");
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) {
    do x = dist(rng);
    while (std::abs(x) < min_abs);
  }
  return v;
}

std::vector<int64_t> random_ints(size_t n, uint32_t seed, int64_t lo, int64_t hi) {
  if (!(lo < hi)) throw std::invalid_argument("random_ints: empty range");
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(lo, hi - 1);
  std::vector<int64_t> v(n);
  for (int64_t& x : v) x = dist(rng);
  return v;
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> strides(sizes.size());
  int64_t s = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    strides[d] = s;
    s *= sizes[d];
  }
  return strides;
}

int64_t shape_numel(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

int64_t strided_offset(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides, int64_t linear_index) {
  int64_t offset = 0;
  for (size_t d = sizes.size(); d-- > 0;) {
    offset += (linear_index % sizes[d]) * strides[d];
    linear_index /= sizes[d];
  }
  return offset;
}

}  // namespace glia::test
