#include "train/trainer_checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/finite.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"

namespace glia {
namespace {

void dump_exact(const Json& j, std::string& out) {
  switch (j.kind()) {
    case Json::Kind::number:
      if (!j.is_integer() && j.as_number() == 0 && std::signbit(j.as_number())) {
        out += "-0.0";  // "-0" would read back as the integer 0
      } else if (!j.is_integer() && std::isfinite(j.as_number())) {
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

}  // namespace

std::string exact_json(const Json& j) {
  std::string out;
  dump_exact(j, out);
  return out;
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

std::map<std::string, Tensor> read_model_weights(const std::string& path, std::string* model) {
  GLIA_CHECK(std::filesystem::exists(path), "weights file " << path << " does not exist");
  bool is_checkpoint = false;
  std::map<std::string, Tensor> out;
  {
    SafetensorsReader reader(path);
    is_checkpoint = reader.metadata().count("glia.checkpoint") > 0;
    if (!is_checkpoint) {
      require_finite_weights(reader);
      for (const auto& e : reader.entries()) {
        Tensor t = empty(e.shape, e.dtype);
        if (e.end > e.begin) std::memcpy(t.data_ptr(), reader.data(e), e.end - e.begin);
        out[e.name] = t;
      }
      if (model) model->clear();
      return out;
    }
  }
  Checkpoint c = load_checkpoint(path);
  if (model) *model = c.model;
  return as_map(c.model_state);
}

}  // namespace glia
