// Integrity of stored tensors: per-tensor checksums, size overflow in headers, NaN/inf
// weights (tensor/safetensors.h, tensor/finite.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "tensor/finite.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace fs = std::filesystem;
using glia::DType;

namespace {

class IntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("glia_integrity_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    glia::allow_non_finite_weights(false);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file with the given header text (padded to 8 bytes) and these data bytes.
  std::string raw_file(const std::string& name, std::string header, const std::string& data) {
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string p = path(name);
    std::ofstream f(p, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xFF));
    f << header << data;
    return p;
  }

  static std::string error_of(const std::string& p) {
    try {
      glia::SafetensorsReader r(p);
    } catch (const glia::Error& e) {
      return e.what();
    }
    return "";
  }

  // Offset of tensor `name`'s bytes in the file.
  static size_t data_offset(const std::string& p, const std::string& name) {
    glia::SafetensorsReader r(p);
    std::ifstream f(p, std::ios::binary);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(f.get())) << (8 * i);
    return static_cast<size_t>(8 + n + r.entry(name).begin);
  }

  static void flip_bytes(const std::string& p, size_t at, size_t count) {
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    for (size_t i = 0; i < count; ++i) {
      f.seekg(static_cast<std::streamoff>(at + i));
      const char c = static_cast<char>(f.get() ^ 0x5A);
      f.seekp(static_cast<std::streamoff>(at + i));
      f.put(c);
    }
  }

  fs::path dir_;
};

TEST_F(IntegrityTest, WrittenFilesCarryAChecksumPerTensorThatMatchesZlibsCrc32) {
  const std::string digits = "123456789";
  std::vector<float> w = {1, 2, 3};
  const std::string p = path("c.safetensors");
  glia::write_safetensors(p, {{"digits", DType::u8, {9}, digits.data()}, {"w", DType::f32, {3}, w.data()}},
                          {{"model", "m"}});
  glia::SafetensorsReader r(p);
  EXPECT_TRUE(r.checksummed());
  const glia::Json sums = glia::Json::parse(r.metadata().at(glia::kChecksumMetadataKey));
  EXPECT_EQ(sums.at("algorithm").as_string(), "crc32");
  EXPECT_EQ(sums.at("tensors").at("digits").as_string(), "cbf43926");  // the check value of "123456789"
  EXPECT_EQ(sums.at("tensors").size(), 2u);
  EXPECT_EQ(r.metadata().at("model"), "m");
  EXPECT_THROW(glia::write_safetensors(path("x.st"), {{"w", DType::f32, {3}, w.data()}},
                                       {{glia::kChecksumMetadataKey, "{}"}}),
               glia::Error);
}

TEST_F(IntegrityTest, SixteenFlippedDataBytesNameTheTensorAndFile) {
  std::vector<float> a(64, 0.5f), b(64, -1.0f), c(64, 2.0f);
  const std::string p = path("flip.safetensors");
  glia::write_safetensors(p, {{"a", DType::f32, {64}, a.data()},
                              {"layer.weight", DType::f32, {8, 8}, b.data()},
                              {"c", DType::f32, {64}, c.data()}});
  flip_bytes(p, data_offset(p, "layer.weight") + 100, 16);
  const std::string msg = error_of(p);
  EXPECT_NE(msg.find("flip.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor 'layer.weight' is corrupt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CRC-32"), std::string::npos) << msg;
}

TEST_F(IntegrityTest, FilesWithoutChecksumsStillLoad) {
  // As PyTorch's tools write them: no __metadata__ at all.
  float v[2] = {1.0f, 2.0f};
  const std::string p = raw_file("plain.st", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                 std::string(reinterpret_cast<const char*>(v), 8));
  glia::SafetensorsReader r(p);
  EXPECT_FALSE(r.checksummed());
  EXPECT_EQ(reinterpret_cast<const float*>(r.data(r.entry("w")))[1], 2.0f);
}

TEST_F(IntegrityTest, ChecksumRecordThatDoesNotMatchTheTensorsIsAnError) {
  const std::string t = R"("w":{"dtype":"U8","shape":[9],"data_offsets":[0,9]})";
  std::string msg;
  auto with_sums = [&](const std::string& name, const std::string& sums) {
    glia::Json meta = glia::Json::object();
    meta[glia::kChecksumMetadataKey] = glia::Json(sums);
    return raw_file(name, "{" + t + R"(,"__metadata__":)" + meta.dump() + "}", "123456789");
  };
  EXPECT_EQ(error_of(with_sums("ok.st", R"({"algorithm":"crc32","tensors":{"w":"cbf43926"}})")), "");
  EXPECT_EQ(error_of(with_sums("upper.st", R"({"algorithm":"crc32","tensors":{"w":"CBF43926"}})")), "");
  msg = error_of(with_sums("hex.st", R"({"algorithm":"crc32","tensors":{"w":"cbf4392g"}})"));
  EXPECT_NE(msg.find("not 8 hex digits"), std::string::npos) << msg;
  msg = error_of(with_sums("missing.st", R"({"algorithm":"crc32","tensors":{}})"));
  EXPECT_NE(msg.find("tensor 'w' has no checksum"), std::string::npos) << msg;
  msg = error_of(with_sums("extra.st", R"({"algorithm":"crc32","tensors":{"w":"cbf43926","v":"00000000"}})"));
  EXPECT_NE(msg.find("'v'"), std::string::npos) << msg;
  msg = error_of(with_sums("algo.st", R"({"algorithm":"md5","tensors":{"w":"cbf43926"}})"));
  EXPECT_NE(msg.find("md5"), std::string::npos) << msg;
  msg = error_of(with_sums("bad.st", R"({"algorithm":"crc32","tensors":{"w":"cbf43927"}})"));
  EXPECT_NE(msg.find("tensor 'w' is corrupt"), std::string::npos) << msg;
}

TEST_F(IntegrityTest, ShapesWhoseSizeOverflowsAreErrorsNamingTheTensor) {
  // 2^32 x 2^32 elements wrap to 0 in 64 bits, so a 0-byte range used to pass.
  std::string msg = error_of(
      raw_file("numel.st", R"({"huge":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""));
  EXPECT_NE(msg.find("tensor 'huge'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more elements than fit in 64 bits"), std::string::npos) << msg;
  // 2^62 elements fit, their 2^64 bytes do not (and wrap to 0).
  msg = error_of(raw_file("bytes.st", R"({"big":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})",
                          ""));
  EXPECT_NE(msg.find("tensor 'big'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more bytes than fit in 64 bits"), std::string::npos) << msg;
  // A zero anywhere makes the product 0 without overflowing: a valid empty tensor.
  EXPECT_EQ(error_of(raw_file("empty.st", R"({"e":{"dtype":"F32","shape":[4294967296,0],"data_offsets":[0,0]}})", "")),
            "");
  EXPECT_THROW(glia::write_safetensors(path("w.st"), {{"x", DType::f32, {int64_t{1} << 40, int64_t{1} << 40}, nullptr}}),
               glia::Error);
}

TEST(Finite, FirstNonFiniteInEveryFloatingDtype) {
  const float f[4] = {1.0f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::infinity(), NAN};
  EXPECT_EQ(glia::first_non_finite(f, DType::f32, 2), -1);
  EXPECT_EQ(glia::first_non_finite(f, DType::f32, 4), 2);
  EXPECT_EQ(glia::non_finite_name(f, DType::f32, 2), "-inf");
  EXPECT_EQ(glia::non_finite_name(f, DType::f32, 3), "NaN");
  const double d[3] = {0.0, -std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::infinity()};
  EXPECT_EQ(glia::first_non_finite(d, DType::f64, 3), 2);
  EXPECT_EQ(glia::non_finite_name(d, DType::f64, 2), "+inf");
  const uint16_t half[3] = {0x7BFF /* 65504, the largest */, 0xFC00 /* -inf */, 0x7E00 /* NaN */};
  EXPECT_EQ(glia::first_non_finite(half, DType::f16, 3), 1);
  EXPECT_EQ(glia::non_finite_name(half, DType::f16, 2), "NaN");
  const uint16_t bf[2] = {0x7F7F /* largest finite */, 0x7FC0 /* NaN */};
  EXPECT_EQ(glia::first_non_finite(bf, DType::bf16, 2), 1);
  const int32_t ints[2] = {-1, 0x7F800000};  // the bits of +inf, but integers are never non-finite
  EXPECT_EQ(glia::first_non_finite(ints, DType::i32, 2), -1);
}

TEST_F(IntegrityTest, NonFiniteWeightsAreAnErrorNamingFileAndTensorUnlessAllowed) {
  std::vector<float> ok(6, 1.0f), bad = {0, 1, NAN, 3, INFINITY, 5};
  const std::string p = path("nan.safetensors");
  glia::write_safetensors(p, {{"ok", DType::f32, {6}, ok.data()}, {"blocks.1.weight", DType::f32, {2, 3}, bad.data()}});
  glia::SafetensorsReader r(p);  // reading bytes is fine: the check is for loading weights
  try {
    glia::require_finite_weights(r);
    FAIL() << "no error";
  } catch (const glia::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("nan.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 'blocks.1.weight' [2, 3] holds 2 non-finite value(s), the first NaN at element 2"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("GLIA_ALLOW_NON_FINITE_WEIGHTS=1"), std::string::npos) << msg;
  }
  glia::allow_non_finite_weights(true);
  EXPECT_NO_THROW(glia::require_finite_weights(r));
}

}  // namespace
