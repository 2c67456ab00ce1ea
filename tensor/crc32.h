// CRC-32 (the IEEE 802.3 polynomial, reflected, as in zlib, PNG and gzip; "CRC-32/ISO-HDLC"
// in the catalogue of parametrised CRCs) over byte ranges. Safetensors files glia writes
// carry one per tensor (tensor/safetensors.h); this one rather than CRC-32C because
// Python's zlib.crc32 computes it, so tools/safetensors_lite.py checks the same files
// without a dependency. Slice-by-8 tables: about 1.5 GB/s on one core.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace glia {

// CRC of `size` bytes continuing from `crc` (0 to start): crc32(b, n2, crc32(a, n1)) is
// the CRC of a followed by b.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

// Eight lowercase hex digits, as stored in file metadata.
std::string crc32_hex(uint32_t crc);

}  // namespace glia
