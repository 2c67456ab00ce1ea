#include "tensor/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "kernels/error.h"
#include "tensor/crc32.h"
#include "tensor/json.h"
#include "tensor/tensor.h"

namespace glia {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's bound

DType parse_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
  if (s == "F32") return DType::f32;
  if (s == "F64") return DType::f64;
  if (s == "I32") return DType::i32;
  if (s == "I64") return DType::i64;
  if (s == "U8") return DType::u8;
  if (s == "F16") return DType::f16;
  if (s == "BF16") return DType::bf16;
  GLIA_FAIL(file << ": tensor '" << tensor << "' has dtype '" << s
                 << "', which glia does not read (F32, F64, I32, I64, U8, F16, BF16)");
}

std::string errno_text() { return std::strerror(errno); }

// dtype x shape in bytes, refusing any product that does not fit in int64 (a forged
// shape must not wrap to a small count that then passes the size check).
uint64_t checked_bytes(const std::vector<int64_t>& shape, DType dtype, const std::string& where) {
  int64_t numel = 1;
  for (int64_t s : shape)
    GLIA_CHECK(!__builtin_mul_overflow(numel, s, &numel),
               where << ": shape " << shape_str(shape) << " has more elements than fit in 64 bits");
  int64_t bytes = 0;
  GLIA_CHECK(!__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(dtype)), &bytes),
             where << ": shape " << shape_str(shape) << " of " << dtype_name(dtype)
                   << " needs more bytes than fit in 64 bits");
  return static_cast<uint64_t>(bytes);
}

// The checksum record: {"algorithm": "crc32", "tensors": {name: 8 hex digits}}.
std::map<std::string, std::string> parse_checksums(const std::string& text, const std::string& path) {
  Json j = Json::parse(text, path + " (" + kChecksumMetadataKey + " metadata)");
  GLIA_CHECK(j.is_object() && j.contains("algorithm") && j.at("algorithm").is_string() && j.contains("tensors") &&
                 j.at("tensors").is_object(),
             path << ": metadata '" << kChecksumMetadataKey << "' is not {\"algorithm\": ..., \"tensors\": {...}}");
  GLIA_CHECK(j.at("algorithm").as_string() == "crc32",
             path << ": checksums use '" << j.at("algorithm").as_string()
                  << "', which this glia does not know (it writes and checks crc32)");
  std::map<std::string, std::string> out;
  for (const auto& [name, v] : j.at("tensors").members()) {
    GLIA_CHECK(v.is_string() && v.as_string().size() == 8 &&
                   v.as_string().find_first_not_of("0123456789abcdefABCDEF") == std::string::npos,
               path << ": the checksum of tensor '" << name << "' is not 8 hex digits");
    std::string hex = v.as_string();
    for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[name] = hex;
  }
  return out;
}

}  // namespace

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
  }
  return "?";
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  GLIA_CHECK(fd >= 0, path << ": cannot open safetensors file: " << errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    GLIA_FAIL(path << ": not a regular file");
  }
  map_size_ = static_cast<size_t>(st.st_size);
  if (map_size_ < 8) {
    ::close(fd);
    GLIA_FAIL(path << ": truncated safetensors file (" << map_size_ << " bytes; the header length alone takes 8)");
  }
  map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  GLIA_CHECK(map_ != MAP_FAILED, path << ": cannot map file: " << errno_text());
  try {
    auto* bytes = static_cast<const uint8_t*>(map_);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
    GLIA_CHECK(header_len <= kMaxHeaderBytes, path << ": header length " << header_len << " bytes exceeds the 100 MiB limit (corrupt or not a safetensors file)");
    GLIA_CHECK(header_len <= map_size_ - 8, path << ": truncated: header says " << header_len << " bytes but the file has only " << map_size_ - 8 << " after the length field");
    std::string text(reinterpret_cast<const char*>(bytes + 8), header_len);
    Json header = Json::parse(text, path + " (safetensors header)");
    GLIA_CHECK(header.is_object(), path << ": header is not a JSON object");
    data_ = bytes + 8 + header_len;
    const uint64_t data_size = map_size_ - 8 - header_len;

    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& member : header.members()) {
      // Not a structured binding: lambdas cannot capture those before C++20 (clang refuses).
      const std::string& name = member.first;
      const Json& info = member.second;
      if (name == "__metadata__") {
        GLIA_CHECK(info.is_object(), path << ": __metadata__ is not an object");
        for (auto& [k, v] : info.members()) {
          GLIA_CHECK(v.is_string(), path << ": __metadata__ value of '" << k << "' is not a string");
          metadata_[k] = v.as_string();
        }
        continue;
      }
      auto where = [&] { return path + ": tensor '" + name + "'"; };
      GLIA_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
                 where() << " needs dtype, shape and data_offsets");
      SafetensorsEntry e;
      e.name = name;
      GLIA_CHECK(info.at("dtype").is_string(), where() << ": dtype is not a string");
      e.dtype = parse_dtype(info.at("dtype").as_string(), path, name);
      const Json& shape = info.at("shape");
      GLIA_CHECK(shape.is_array(), where() << ": shape is not an array");
      for (auto& s : shape.items()) {
        GLIA_CHECK(s.is_integer() && s.as_integer() >= 0, where() << ": shape has a non-integer or negative size");
        e.shape.push_back(s.as_integer());
      }
      const Json& off = info.at("data_offsets");
      GLIA_CHECK(off.is_array() && off.size() == 2 && off[0].is_integer() && off[1].is_integer() &&
                     off[0].as_integer() >= 0 && off[1].as_integer() >= off[0].as_integer(),
                 where() << ": data_offsets must be [begin, end] with 0 <= begin <= end");
      e.begin = static_cast<uint64_t>(off[0].as_integer());
      e.end = static_cast<uint64_t>(off[1].as_integer());
      GLIA_CHECK(e.end <= data_size, where() << ": data ends at byte " << e.end << " but the data section has "
                                             << data_size << " bytes (file truncated?)");
      const uint64_t expected = checked_bytes(e.shape, e.dtype, where());
      GLIA_CHECK(e.end - e.begin == expected, where() << ": holds " << e.end - e.begin << " bytes but "
                                                      << dtype_name(e.dtype) << " of its shape needs " << expected);
      ranges.emplace_back(e.begin, e.end);
      index_[name] = entries_.size();
      entries_.push_back(std::move(e));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
      GLIA_CHECK(ranges[i].first >= ranges[i - 1].second, path << ": two tensors' data ranges overlap at byte " << ranges[i].first);
    verify_checksums();
  } catch (...) {
    ::munmap(map_, map_size_);
    throw;
  }
}

void SafetensorsReader::verify_checksums() {
  auto it = metadata_.find(kChecksumMetadataKey);
  if (it == metadata_.end()) return;  // e.g. written by PyTorch's tools: nothing to check
  checksummed_ = true;
  const std::map<std::string, std::string> sums = parse_checksums(it->second, path_);
  for (const auto& [name, sum] : sums)
    GLIA_CHECK(index_.count(name), path_ << ": the checksums list tensor '" << name
                                         << "', which the file does not hold (header edited or damaged)");
  for (const SafetensorsEntry& e : entries_) {
    auto s = sums.find(e.name);
    GLIA_CHECK(s != sums.end(), path_ << ": tensor '" << e.name
                                      << "' has no checksum although the file's other tensors do (header edited or damaged)");
    const std::string actual = crc32_hex(crc32(data(e), static_cast<size_t>(e.end - e.begin)));
    GLIA_CHECK(actual == s->second,
               path_ << ": tensor '" << e.name << "' is corrupt: its " << e.end - e.begin << " bytes have CRC-32 "
                     << actual << " but the file recorded " << s->second
                     << " when it was written (the data changed on disk or in transfer)");
  }
}

SafetensorsReader::~SafetensorsReader() {
  if (map_ != nullptr && map_ != MAP_FAILED) ::munmap(map_, map_size_);
}

bool SafetensorsReader::contains(const std::string& name) const { return index_.count(name) != 0; }

const SafetensorsEntry& SafetensorsReader::entry(const std::string& name) const {
  auto it = index_.find(name);
  GLIA_CHECK(it != index_.end(), path_ << ": has no tensor named '" << name << "'");
  return entries_[it->second];
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  GLIA_CHECK(fd >= 0, tmp << ": cannot create: " << errno_text());
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      GLIA_FAIL(tmp << ": write failed after " << written << " of " << bytes.size() << " bytes: " << why);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    GLIA_FAIL(tmp << ": could not flush to disk: " << why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    GLIA_FAIL(path << ": could not replace with " << tmp << ": " << why);
  }
  // Make the rename itself durable.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.find_last_of('/') + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_safetensors(const std::string& path, const std::vector<SafetensorsItem>& items,
                       const std::map<std::string, std::string>& metadata) {
  GLIA_CHECK(!metadata.count(kChecksumMetadataKey),
             path << ": metadata key '" << kChecksumMetadataKey << "' is reserved for the checksums glia writes");
  Json header = Json::object();
  Json sums = Json::object();
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (auto& it : items) {
    GLIA_CHECK(!it.name.empty() && it.name != "__metadata__", path << ": invalid tensor name '" << it.name << "'");
    GLIA_CHECK(!header.contains(it.name), path << ": tensor name '" << it.name << "' given twice");
    Json shape = Json::array();
    for (int64_t s : it.shape) {
      GLIA_CHECK(s >= 0, path << ": tensor '" << it.name << "' has a negative size");
      shape.push_back(Json(s));
    }
    const uint64_t bytes = checked_bytes(it.shape, it.dtype, path + ": tensor '" + it.name + "'");
    sizes.push_back(bytes);
    sums[it.name] = Json(crc32_hex(crc32(it.data, static_cast<size_t>(bytes))));
    Json entry = Json::object();
    entry["dtype"] = Json(safetensors_dtype_name(it.dtype));
    entry["shape"] = shape;
    Json off = Json::array();
    off.push_back(Json(static_cast<int64_t>(offset)));
    off.push_back(Json(static_cast<int64_t>(offset + bytes)));
    entry["data_offsets"] = off;
    header[it.name] = entry;
    offset += bytes;
  }
  Json meta = Json::object();
  for (auto& [k, v] : metadata) meta[k] = Json(v);
  Json checksums = Json::object();
  checksums["algorithm"] = Json("crc32");
  checksums["tensors"] = sums;
  meta[kChecksumMetadataKey] = Json(checksums.dump());
  header["__metadata__"] = meta;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep tensor data 8-byte aligned
  std::string out;
  out.reserve(8 + text.size() + offset);
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  out += text;
  for (size_t i = 0; i < items.size(); ++i)
    out.append(static_cast<const char*>(items[i].data), static_cast<size_t>(sizes[i]));
  write_file_atomically(path, out);
}

}  // namespace glia
