// safetensors (https://github.com/huggingface/safetensors format): 8-byte little-endian
// header length N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {string: string}}, then the tensor bytes. Written in glia: the header is
// bounded and validated, every offset checked against the file size, every tensor's byte
// count checked against dtype x shape; each violation is an Error naming file and tensor.
// This level deals in raw bytes; Tensor-level load/save (state_dict) builds on it.
//
// Integrity: every file glia writes records a CRC-32 of each tensor's bytes in the
// metadata (kChecksumMetadataKey), and the reader checks them all on open, so a flipped
// byte is an Error naming the file and the tensor. Files without the record (written by
// other tools) load unchecked.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace glia {

// Metadata key of the checksum record: JSON {"algorithm": "crc32", "tensors": {name: hex}}.
inline constexpr const char* kChecksumMetadataKey = "glia.checksums";

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data section
  int64_t numel() const;
};

class SafetensorsReader {
 public:
  // Maps the file and validates everything: header, sizes (overflow included), offsets,
  // and the tensors' checksums when the file has them.
  explicit SafetensorsReader(const std::string& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;  // Error naming tensor and file
  const uint8_t* data(const SafetensorsEntry& e) const { return data_ + e.begin; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // True when the file carried checksums (all verified by the constructor).
  bool checksummed() const { return checksummed_; }

 private:
  void verify_checksums();

  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  bool checksummed_ = false;
};

struct SafetensorsItem {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // host memory, numel * dtype_size bytes, little-endian
};

// Writes atomically: a temporary file beside `path`, fsync, rename. A crash while
// writing leaves the previous file intact. Adds the checksum record to `metadata`.
void write_safetensors(const std::string& path, const std::vector<SafetensorsItem>& items,
                       const std::map<std::string, std::string>& metadata = {});

// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync directory).
void write_file_atomically(const std::string& path, const std::string& bytes);

const char* safetensors_dtype_name(DType t);

}  // namespace glia
