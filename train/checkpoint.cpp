#include "train/checkpoint.h"

#include <cstring>

#include "kernels/error.h"
#include "tensor/finite.h"
#include "tensor/safetensors.h"

namespace glia {
namespace {

constexpr int kFormatVersion = 1;
constexpr const char* kMetadataKey = "glia.checkpoint";
constexpr const char* kModelPrefix = "model/";
constexpr const char* kOptimizerPrefix = "optimizer/";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

Tensor copy_out(const SafetensorsReader& reader, const SafetensorsEntry& e) {
  Tensor t = empty(e.shape, e.dtype, Device::cpu);
  size_t bytes = static_cast<size_t>(e.end - e.begin);
  if (bytes > 0) std::memcpy(t.data_ptr(), reader.data(e), bytes);
  return t;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  GLIA_CHECK(!c.model.empty(), "save_checkpoint(" << path << "): the checkpoint names no model");
  std::vector<Tensor> host;  // host copies stay alive until the file is written
  std::vector<SafetensorsItem> items;
  host.reserve(c.model_state.size() + c.optimizer_tensors.size());
  auto add = [&](const std::string& name, const Tensor& t) {
    host.push_back(t.detach().to(Device::cpu).contiguous());
    items.push_back({name, host.back().dtype(), host.back().sizes(), host.back().data_ptr()});
  };
  for (auto& [name, t] : c.model_state) add(kModelPrefix + name, t);
  for (auto& [name, t] : c.optimizer_tensors) add(kOptimizerPrefix + name, t);

  Json meta = Json::object();
  meta["format"] = Json(kFormatVersion);
  meta["model"] = Json(c.model);
  meta["model_config"] = c.model_config;
  meta["optimizer"] = c.optimizer_state;
  meta["trainer"] = c.trainer_state;
  write_safetensors(path, items, {{kMetadataKey, meta.dump()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsReader reader(path);  // checks sizes and checksums
  auto it = reader.metadata().find(kMetadataKey);
  GLIA_CHECK(it != reader.metadata().end(),
             path << ": not a glia checkpoint (a safetensors file without '" << kMetadataKey
                  << "' metadata; weights alone load with --pretrained)");
  Json meta = Json::parse(it->second, path + " (checkpoint metadata)");
  int64_t format = meta.at("format").as_integer();
  GLIA_CHECK(format <= kFormatVersion, path << ": checkpoint format " << format << " is newer than this glia reads ("
                                            << kFormatVersion << ")");
  require_finite_weights(reader);  // optimizer moments too: a resumed step would spread NaN
  Checkpoint c;
  c.model = meta.at("model").as_string();
  c.model_config = meta.at("model_config");
  c.optimizer_state = meta.at("optimizer");
  c.trainer_state = meta.at("trainer");
  for (const SafetensorsEntry& e : reader.entries()) {
    if (starts_with(e.name, kModelPrefix)) {
      c.model_state.emplace_back(e.name.substr(std::strlen(kModelPrefix)), copy_out(reader, e));
    } else if (starts_with(e.name, kOptimizerPrefix)) {
      c.optimizer_tensors.emplace_back(e.name.substr(std::strlen(kOptimizerPrefix)), copy_out(reader, e));
    } else {
      GLIA_FAIL(path << ": unexpected tensor '" << e.name << "' in a glia checkpoint");
    }
  }
  return c;
}

void require_model(const Checkpoint& checkpoint, const std::string& model, const std::string& path) {
  GLIA_CHECK(checkpoint.model == model, "checkpoint " << path << " holds model '" << checkpoint.model << "', not '"
                                                      << model << "'");
}

std::map<std::string, Tensor> as_map(const NamedTensors& tensors) {
  std::map<std::string, Tensor> m;
  for (auto& [name, t] : tensors) m.emplace(name, t);
  return m;
}

}  // namespace glia
