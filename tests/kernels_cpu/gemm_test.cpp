// CPU GEMM argument checks. Its values (every transpose, batches, alpha/beta, the threaded
// split above 2^20 multiply-adds at 3 and 4 threads) are checked by tests/kernels_ops.
#include <gtest/gtest.h>

#include "kernels/gemm.h"
#include "kernels/error.h"

namespace glia::kernels {
namespace {

std::string gemm_error(GemmParams p) {
  float buf[64] = {};
  p.a = p.b = buf;
  p.c = buf;
  try {
    cpu::gemm(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GemmErrors, BadSizesLeadingDimensionsAndDtypeNameTheProblem) {
  GemmParams p;
  p.m = 2;
  p.n = 3;
  p.k = 4;
  p.lda = 4;
  p.ldb = 3;
  p.ldc = 3;
  EXPECT_EQ(gemm_error(p), "(no error)");

  GemmParams bad = p;
  bad.m = -1;
  std::string msg = gemm_error(bad);
  EXPECT_NE(msg.find("m=-1"), std::string::npos) << msg;

  bad = p;
  bad.lda = 3;  // A is 2x4, rows of 4
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("lda=3"), std::string::npos) << msg;

  bad = p;
  bad.trans_b = true;  // B stored as 3x4, so ldb=3 is too small
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("ldb=3"), std::string::npos) << msg;

  bad = p;
  bad.ldc = 2;
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("ldc=2"), std::string::npos) << msg;

  bad = p;
  bad.dtype = DType::i32;
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("gemm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int32"), std::string::npos) << msg;
}

}  // namespace
}  // namespace glia::kernels
