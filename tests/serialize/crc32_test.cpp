// CRC-32 against published check values and a bit-at-a-time reference.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tensor/crc32.h"

namespace {

uint32_t crc_of(const std::string& s) { return glia::crc32(s.data(), s.size()); }

// The definition, one bit at a time (reflected polynomial 0xEDB88320, init and final
// xor 0xFFFFFFFF): slow and obviously right, to check the table-driven version against.
uint32_t bitwise_crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

TEST(Crc32, PublishedCheckValues) {
  // The catalogue's check value of CRC-32/ISO-HDLC, and values zlib.crc32 gives.
  EXPECT_EQ(crc_of("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc_of(""), 0x00000000u);
  EXPECT_EQ(crc_of("a"), 0xE8B7BE43u);
  EXPECT_EQ(crc_of("abc"), 0x352441C2u);
  EXPECT_EQ(crc_of("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  EXPECT_EQ(glia::crc32_hex(0xCBF43926u), "cbf43926");
  EXPECT_EQ(glia::crc32_hex(0x1u), "00000001");
}

TEST(Crc32, MatchesTheBitwiseDefinitionAtEveryLengthAndOffset) {
  std::vector<uint8_t> data(300);
  uint32_t x = 12345;
  for (auto& b : data) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 24);
  for (size_t offset = 0; offset < 9; ++offset)
    for (size_t n = 0; n + offset <= data.size(); n += (n < 40 ? 1 : 37))
      ASSERT_EQ(glia::crc32(data.data() + offset, n), bitwise_crc32(data.data() + offset, n))
          << "offset " << offset << " length " << n;
}

TEST(Crc32, ContinuesAcrossPieces) {
  const std::string s = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= s.size(); ++cut)
    EXPECT_EQ(glia::crc32(s.data() + cut, s.size() - cut, glia::crc32(s.data(), cut)), 0x414FA339u) << cut;
}

}  // namespace
