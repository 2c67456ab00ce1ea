// bfloat16 / float16 tensors through safetensors (nn::write_tensors / nn::read_tensors):
// dtype names BF16 and F16, bits unchanged, strided views written in row-major order.
#include <gtest/gtest.h>

#include <cstdio>

#include "layers/state_dict.h"
#include "tensor/ops.h"

namespace glia {
namespace {

Tensor random_f32(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, DType::f32, Device::cpu, &g);
}

TEST(HalfTensor, SafetensorsKeepTheBits) {
  const std::string path = ::testing::TempDir() + "/glia_half_tensors.safetensors";
  Tensor b = random_f32({3, 5}, 3).to(DType::bf16);
  Tensor h = random_f32({7}, 4).to(DType::f16);
  nn::write_tensors(path, {{"b", b.transpose(0, 1)}, {"h", h}});  // a strided bf16 view too
  std::map<std::string, Tensor> back = nn::read_tensors(path);
  ASSERT_EQ(back.at("b").dtype(), DType::bf16);
  ASSERT_EQ(back.at("h").dtype(), DType::f16);
  EXPECT_EQ(back.at("b").sizes(), (Shape{5, 3}));
  const std::vector<bfloat16> want_b = b.transpose(0, 1).contiguous().to_vector<bfloat16>();
  const std::vector<bfloat16> got_b = back.at("b").to_vector<bfloat16>();
  for (size_t i = 0; i < want_b.size(); ++i) EXPECT_EQ(got_b[i].bits, want_b[i].bits) << i;
  const std::vector<float16> want_h = h.to_vector<float16>(), got_h = back.at("h").to_vector<float16>();
  for (size_t i = 0; i < want_h.size(); ++i) EXPECT_EQ(got_h[i].bits, want_h[i].bits) << i;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glia
