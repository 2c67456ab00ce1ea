#include "train/trainer_checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/safetensors.h"

namespace glia {
namespace {

constexpr const char* kFormat = "trainer-1";

// Json::dump() writes 9 significant digits (enough for floats); a checkpoint needs every
// double back bit for bit (learning rate, the callbacks' best values), so numbers are
// written here with 17 (round-trip precision) and everything else by Json itself.
void dump_exact(const Json& j, std::string& out) {
  switch (j.kind()) {
    case Json::Kind::number:
      if (!j.is_integer() && std::isfinite(j.as_number())) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", j.as_number());
        out += buf;
      } else {
        out += j.dump();
      }
      return;
    case Json::Kind::array:
      out += '[';
      for (size_t i = 0; i < j.items().size(); ++i) {
        if (i) out += ',';
        dump_exact(j.items()[i], out);
      }
      out += ']';
      return;
    case Json::Kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.members()) {
        if (!first) out += ',';
        first = false;
        out += Json(k).dump();
        out += ':';
        dump_exact(v, out);
      }
      out += '}';
      return;
    }
    default:
      out += j.dump();
  }
}

std::string exact_json(const Json& j) {
  std::string out;
  dump_exact(j, out);
  return out;
}

void add_items(const std::string& prefix, const std::vector<std::pair<std::string, Tensor>>& tensors,
               std::vector<Tensor>& keep, std::vector<SafetensorsItem>& items) {
  for (const auto& [name, t] : tensors) {
    Tensor host = t.detach().to(Device::cpu).contiguous();
    keep.push_back(host);
    items.push_back({prefix + name, host.dtype(), host.sizes(), host.data_ptr()});
  }
}

Tensor tensor_from_entry(const SafetensorsReader& reader, const SafetensorsEntry& e) {
  Tensor t = empty(e.shape, e.dtype);
  const size_t bytes = static_cast<size_t>(e.numel()) * dtype_size(e.dtype);
  GLIA_CHECK(bytes == e.end - e.begin, reader.path() << ": tensor '" << e.name << "' has " << e.end - e.begin
                                                     << " bytes, expected " << bytes);
  if (bytes > 0) std::memcpy(t.data_ptr(), reader.data(e), bytes);
  return t;
}

}  // namespace

void write_trainer_checkpoint(const std::string& path, const TrainerCheckpoint& ck) {
  std::vector<Tensor> keep;
  std::vector<SafetensorsItem> items;
  add_items("model/", ck.model, keep, items);
  add_items("optimizer/", ck.optimizer, keep, items);
  add_items("best/", ck.best, keep, items);
  std::map<std::string, std::string> meta{{"glia_checkpoint", kFormat},
                                          {"model", ck.model_name},
                                          {"optimizer", exact_json(ck.optimizer_json)},
                                          {"trainer", exact_json(ck.trainer)}};
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  write_safetensors(path, items, meta);
}

LoadedTrainerCheckpoint read_trainer_checkpoint(const std::string& path) {
  GLIA_CHECK(std::filesystem::exists(path), "checkpoint " << path << " does not exist");
  SafetensorsReader reader(path);
  const auto& meta = reader.metadata();
  auto it = meta.find("glia_checkpoint");
  GLIA_CHECK(it != meta.end() && it->second == kFormat,
             path << " is not a glia training checkpoint (no glia_checkpoint = " << kFormat << " in its metadata)");
  LoadedTrainerCheckpoint ck;
  ck.model_name = meta.count("model") ? meta.at("model") : "";
  ck.optimizer_json = Json::parse(meta.count("optimizer") ? meta.at("optimizer") : "{}", path + " optimizer state");
  ck.trainer = Json::parse(meta.count("trainer") ? meta.at("trainer") : "{}", path + " trainer state");
  for (const auto& e : reader.entries()) {
    const auto slash = e.name.find('/');
    GLIA_CHECK(slash != std::string::npos, path << ": unexpected tensor '" << e.name << "'");
    const std::string group = e.name.substr(0, slash), name = e.name.substr(slash + 1);
    Tensor t = tensor_from_entry(reader, e);
    if (group == "model") ck.model[name] = t;
    else if (group == "optimizer") ck.optimizer[name] = t;
    else if (group == "best") ck.best[name] = t;
    else GLIA_FAIL(path << ": unexpected tensor group '" << group << "' in '" << e.name << "'");
  }
  return ck;
}

void load_module_state(nn::Module& module, const std::map<std::string, Tensor>& tensors, const std::string& what) {
  NoGradGuard no_grad;
  std::set<std::string> used;
  for (const auto& [name, t] : module.state_dict()) {
    auto it = tensors.find(name);
    GLIA_CHECK(it != tensors.end(), what << " does not fit this model: it has no tensor '" << name << "' (shape "
                                         << shape_str(t.sizes()) << "); is it a checkpoint of another model?");
    GLIA_CHECK(it->second.sizes() == t.sizes(), what << " does not fit this model: tensor '" << name << "' has shape "
                                                     << shape_str(it->second.sizes()) << ", the model expects "
                                                     << shape_str(t.sizes()));
    t.copy_(it->second);
    used.insert(name);
  }
  for (const auto& [name, t] : tensors)
    GLIA_CHECK(used.count(name), what << " does not fit this model: it holds tensor '" << name << "' (shape "
                                      << shape_str(t.sizes()) << ") that the model does not have");
}

std::map<std::string, Tensor> read_model_weights(const std::string& path, std::string* model_name) {
  GLIA_CHECK(std::filesystem::exists(path), "weights file " << path << " does not exist");
  SafetensorsReader reader(path);
  const auto& meta = reader.metadata();
  const bool checkpoint = meta.count("glia_checkpoint") > 0;
  if (model_name) *model_name = meta.count("model") ? meta.at("model") : "";
  std::map<std::string, Tensor> out;
  for (const auto& e : reader.entries()) {
    if (checkpoint) {
      if (e.name.rfind("model/", 0) != 0) continue;
      out[e.name.substr(6)] = tensor_from_entry(reader, e);
    } else {
      out[e.name] = tensor_from_entry(reader, e);
    }
  }
  return out;
}

}  // namespace glia
