#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace fs = std::filesystem;
using glia::DType;

namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("glia_st_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A file with the given raw header text and `data_bytes` bytes of data.
  std::string raw_file(const std::string& name, const std::string& header, size_t data_bytes,
                       uint64_t declared_len = UINT64_MAX) {
    std::string p = path(name);
    std::ofstream f(p, std::ios::binary);
    uint64_t n = declared_len == UINT64_MAX ? header.size() : declared_len;
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xFF));
    f << header << std::string(data_bytes, '\0');
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

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTripsNamesDtypesShapesBytesAndMetadata) {
  std::vector<float> a = {1.5f, -2.25f, 3.0f, 4.0f, 5.0f, 6.0f};
  std::vector<int64_t> b = {7, -8, 9};
  std::vector<double> c = {0.125};
  std::string p = path("x.safetensors");
  glia::write_safetensors(p,
                          {{"layer.weight", DType::f32, {2, 3}, a.data()},
                           {"steps", DType::i64, {3}, b.data()},
                           {"scalar", DType::f64, {}, c.data()}},
                          {{"model", "test"}});
  glia::SafetensorsReader r(p);
  ASSERT_EQ(r.entries().size(), 3u);
  const auto& w = r.entry("layer.weight");
  EXPECT_EQ(w.dtype, DType::f32);
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(0, std::memcmp(r.data(w), a.data(), a.size() * 4));
  EXPECT_EQ(0, std::memcmp(r.data(r.entry("steps")), b.data(), b.size() * 8));
  EXPECT_EQ(r.entry("scalar").numel(), 1);
  EXPECT_EQ(r.metadata().at("model"), "test");
  EXPECT_FALSE(r.contains("missing"));
  EXPECT_FALSE(fs::exists(p + ".tmp." + std::to_string(::getpid())));
}

TEST_F(SafetensorsTest, MissingTensorNamesTensorAndFile) {
  float v = 1;
  std::string p = path("m.safetensors");
  glia::write_safetensors(p, {{"a", DType::f32, {1}, &v}});
  glia::SafetensorsReader r(p);
  try {
    r.entry("b");
    FAIL() << "no error";
  } catch (const glia::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'b'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("m.safetensors"), std::string::npos);
  }
}

TEST_F(SafetensorsTest, TruncatedFileIsAnErrorNamingTheTensor) {
  std::vector<float> a(100, 1.0f);
  std::string p = path("t.safetensors");
  glia::write_safetensors(p, {{"big", DType::f32, {100}, a.data()}});
  fs::resize_file(p, fs::file_size(p) - 10);
  std::string msg = error_of(p);
  EXPECT_NE(msg.find("'big'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST_F(SafetensorsTest, TooShortFileAndHugeHeaderLength) {
  std::string p = path("short.safetensors");
  std::ofstream(p) << "abc";
  EXPECT_NE(error_of(p).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(raw_file("huge.st", "{}", 0, 1ull << 40)).find("100 MiB"), std::string::npos);
  EXPECT_NE(error_of(raw_file("long.st", "{}", 0, 500)).find("truncated"), std::string::npos);
}

TEST_F(SafetensorsTest, InvalidHeadersAreRejectedWithReasons) {
  EXPECT_NE(error_of(raw_file("j.st", "{\"a\": ", 0)).find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of(raw_file("d.st", R"({"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}})", 1)).find("Q8"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("n.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)).find("needs 8"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("o.st", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4))
                .find("data_offsets"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("neg.st", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4))
                .find("negative"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("ov.st",
                              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              12))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("k.st", R"({"a":{"dtype":"F32"}})", 0)).find("data_offsets"), std::string::npos);
  EXPECT_NE(error_of(path("does_not_exist.st")).find("cannot open"), std::string::npos);
}

TEST_F(SafetensorsTest, AtomicWriteReplacesExistingFileWholly) {
  float a = 1, b = 2;
  std::string p = path("ckpt.safetensors");
  glia::write_safetensors(p, {{"v", DType::f32, {1}, &a}});
  glia::write_safetensors(p, {{"v", DType::f32, {1}, &b}});
  glia::SafetensorsReader r(p);
  EXPECT_EQ(*reinterpret_cast<const float*>(r.data(r.entry("v"))), 2.0f);
  EXPECT_THROW(glia::write_safetensors(p, {{"v", DType::f32, {1}, &a}, {"v", DType::f32, {1}, &b}}), glia::Error);
  // The failed write left the previous file in place.
  glia::SafetensorsReader again(p);
  EXPECT_EQ(*reinterpret_cast<const float*>(again.data(again.entry("v"))), 2.0f);
  EXPECT_THROW(glia::write_safetensors(path("no_such_dir/x.st"), {{"v", DType::f32, {1}, &a}}), glia::Error);
}

TEST(Json, ParsesAndDumpsRoundTrip) {
  auto j = glia::Json::parse(R"({"a": [1, 2.5, -3e2, true, null], "b": {"c": "x\ny\u00e9"}})");
  EXPECT_EQ(j.at("a")[0].as_integer(), 1);
  EXPECT_DOUBLE_EQ(j.at("a")[2].as_number(), -300.0);
  EXPECT_EQ(j.at("b").at("c").as_string(), "x\ny\xC3\xA9");
  auto again = glia::Json::parse(j.dump());
  EXPECT_EQ(again.dump(), j.dump());
  EXPECT_EQ(glia::Json::parse(j.dump(2)).dump(), j.dump());
}

TEST(Json, RejectsMalformedInputWithOffset) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "tru", "\"abc", "{\"a\":1,\"a\":2}", "1 2", "01x"}) {
    EXPECT_THROW(glia::Json::parse(bad), glia::Error) << bad;
  }
  std::string deep(1000, '[');
  try {
    glia::Json::parse(deep);
    FAIL();
  } catch (const glia::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nesting"), std::string::npos);
  }
  EXPECT_THROW(glia::Json::parse("{}").at("missing"), glia::Error);
}

}  // namespace

namespace {
TEST(Json, DoublesRoundTripExactly) {
  for (double v : {0.1, 1.0 / 3.0, 2.9999999999999996e-4, 1e-300, -123456.78901234567}) {
    glia::Json j = glia::Json::array();
    j.push_back(glia::Json(v));
    EXPECT_EQ(glia::Json::parse(j.dump()).items()[0].as_number(), v);
  }
}

TEST(Json, ManyKeysParseInLinearTime) {
  // 200000 keys: with a scan of the earlier keys per key this took minutes.
  std::string text = "{";
  for (int i = 0; i < 200000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  text += "}";
  const auto start = std::chrono::steady_clock::now();
  const glia::Json j = glia::Json::parse(text);
  // About 0.1 s; the quadratic scan made 2*10^10 key comparisons (tens of seconds).
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  EXPECT_EQ(j.size(), 200000u);
  EXPECT_THROW(glia::Json::parse("{\"a\":1,\"b\":2,\"a\":3}"), glia::Error);
}

TEST(Json, NegativeZeroStaysADoubleThroughDumpAndParse) {
  // Found by fuzzing: -3e-807 underflows to -0.0, which was written "-0" and read back as
  // the integer 0, so dump(parse(dump(x))) differed from dump(x).
  const glia::Json j = glia::Json::parse("[-3e-807, -0.0, 0.0]");
  const std::string once = j.dump();
  EXPECT_EQ(once, "[-0.0,-0.0,0]");
  const glia::Json back = glia::Json::parse(once);
  EXPECT_FALSE(back[0].is_integer());
  EXPECT_TRUE(std::signbit(back[0].as_number()));
  EXPECT_EQ(back.dump(), once);
}
}  // namespace
