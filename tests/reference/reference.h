// Shared by the reference tests: where the PyTorch references are, loading them into a
// glia model, and tolerant comparisons that report the worst element.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "layers/state_dict.h"

namespace glia::test {

// The references written by tools/make_refs.py: $GLIA_REF_DIR, else the build's refs/
// (GLIA_DEFAULT_REF_DIR, tests/CMakeLists.txt), where the ctest fixture
// reference.generate_models writes them before any test labelled `reference` runs.
inline std::string refs_path(const std::string& model) {
  const char* dir = std::getenv("GLIA_REF_DIR");
#ifdef GLIA_DEFAULT_REF_DIR
  const char* fallback = GLIA_DEFAULT_REF_DIR;
#else
  const char* fallback = "refs";
#endif
  return std::string(dir != nullptr && *dir != 0 ? dir : fallback) + "/" + model + ".safetensors";
}

// Fails (never skips) when the file is absent: CI must run these.
inline std::map<std::string, Tensor> load_refs(const std::string& model) {
  const std::string path = refs_path(model);
  if (!std::filesystem::exists(path))
    ADD_FAILURE() << "reference file " << path
                  << " is missing: run `ctest -L reference` (it generates them) or "
                     "`/usr/bin/python3 tools/make_refs.py --out <dir>` and set GLIA_REF_DIR=<dir>";
  return nn::read_tensors(path);
}

// The entries named "<prefix><name>", with the prefix stripped.
inline std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& refs, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& r : refs)
    if (r.first.rfind(prefix, 0) == 0) out.emplace(r.first.substr(prefix.size()), r.second);
  return out;
}

// The model's weights and buffers from refs ("param.*" and "buffer.*").
inline std::map<std::string, Tensor> initial_state(const std::map<std::string, Tensor>& refs) {
  auto state = with_prefix(refs, "param.");
  for (auto& b : with_prefix(refs, "buffer.")) state.emplace(b.first, b.second);
  return state;
}

// |a - b| <= rtol * (|b| + max|b|) + atol elementwise: relative to each value, with a
// floor at the tensor's scale so entries near zero (a sum of cancelling terms) are judged
// against the magnitude of the tensor they belong to. atol covers whole tensors that are
// mathematically zero (the bias gradient of a BN whose output feeds another BN, the
// running mean after it): both sides then hold only round-off (~1e-14 in float64).
struct WorstError {
  double error = 0;  // the largest max(0, |a - b| - atol) / (|b| + max|b|); +inf for a NaN or a shape mismatch
  size_t index = 0;
  double actual = 0, expected = 0, scale = 0;
};

inline WorstError worst_error(const Tensor& actual, const Tensor& expected, double atol = 0) {
  WorstError w;
  if (actual.sizes() != expected.sizes()) {
    w.error = INFINITY;
    return w;
  }
  auto a = actual.to_vector<double>(), e = expected.to_vector<double>();
  for (double v : e) w.scale = std::max(w.scale, std::fabs(v));
  w.error = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::max(0.0, std::fabs(a[i] - e[i]) - atol) / (std::fabs(e[i]) + w.scale + 1e-300);
    if (!(err <= w.error) || std::isnan(a[i])) {
      w.error = std::isnan(a[i]) ? INFINITY : err;
      w.index = i;
      w.actual = a[i];
      w.expected = e[i];
    }
  }
  w.error = std::max(w.error, 0.0);
  return w;
}

inline ::testing::AssertionResult close(const Tensor& actual, const Tensor& expected, double rtol,
                                        const std::string& what, double atol = 0) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(actual.sizes()) << " vs reference "
                                         << shape_str(expected.sizes());
  const WorstError w = worst_error(actual, expected, atol);
  if (w.error <= rtol) return ::testing::AssertionSuccess() << what << " worst " << w.error;
  return ::testing::AssertionFailure() << what << ": element " << w.index << " is " << w.actual << ", reference "
                                       << w.expected << " (relative error " << w.error << " > " << rtol
                                       << ", tensor scale " << w.scale << ")";
}

}  // namespace glia::test
