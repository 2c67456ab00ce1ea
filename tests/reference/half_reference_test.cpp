// glia's float32/float64 -> bfloat16/float16 casts (Tensor::to, kernels/half.h) against
// PyTorch's, bit for bit, on every 16-bit value, the ties between neighbours and the floats
// beside them, random float32 patterns, and doubles within 2^-40 of a tie (both round
// through float32). The file is written by tools/make_half_refs.py (the
// reference.generate_half fixture) with the results stored as BF16 and F16, so reading
// it also exercises glia's 16-bit safetensors path.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "layers/state_dict.h"

namespace glia {
namespace {

std::string half_ref_path() {
  const char* dir = std::getenv("GLIA_REF_DIR");
  return std::string(dir && *dir ? dir : GLIA_DEFAULT_REF_DIR) + "/half.safetensors";
}

template <class H>
void expect_same_bits(const Tensor& got, const Tensor& want, const Tensor& inputs, const char* what) {
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(got.numel(), want.numel()) << what;
  const std::vector<H> g = got.to_vector<H>(), w = want.to_vector<H>();
  const std::vector<double> x = inputs.to_vector<double>();
  int64_t wrong = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i].bits == w[i].bits) continue;
    if (++wrong <= 5)
      ADD_FAILURE() << what << ": input " << std::hexfloat << x[i] << " gave bits " << std::hex << g[i].bits
                    << ", PyTorch " << w[i].bits;
  }
  EXPECT_EQ(wrong, 0) << what << ": " << wrong << " of " << g.size() << " differ";
}

TEST(HalfVsTorch, CastsAgreeBitForBit) {
  std::map<std::string, Tensor> refs = nn::read_tensors(half_ref_path());  // missing file: an error
  const Tensor& x = refs.at("inputs");
  const Tensor& x64 = refs.at("inputs64");
  ASSERT_EQ(x.dtype(), DType::f32);
  ASSERT_EQ(x64.dtype(), DType::f64);
  ASSERT_GT(x.numel(), 600000);
  expect_same_bits<bfloat16>(x.to(DType::bf16), refs.at("bf16"), x, "float32 -> bfloat16");
  expect_same_bits<float16>(x.to(DType::f16), refs.at("f16"), x, "float32 -> float16");
  expect_same_bits<bfloat16>(x64.to(DType::bf16), refs.at("bf16_64"), x64, "float64 -> bfloat16");
  expect_same_bits<float16>(x64.to(DType::f16), refs.at("f16_64"), x64, "float64 -> float16");
  // And back: 16 bits -> float32 is exact, so PyTorch's 16-bit tensors read as glia's.
  EXPECT_EQ(refs.at("bf16").to(DType::f32).to_vector<float>(), x.to(DType::bf16).to(DType::f32).to_vector<float>());
}

}  // namespace
}  // namespace glia
