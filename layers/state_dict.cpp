#include "layers/state_dict.h"

#include <cstring>
#include <set>
#include <sstream>

#include "tensor/autograd.h"
#include "tensor/finite.h"
#include "tensor/safetensors.h"

namespace glia::nn {

namespace {

std::map<std::string, Tensor> copy_tensors(const SafetensorsReader& reader) {
  const std::string& path = reader.path();
  std::map<std::string, Tensor> out;
  for (const SafetensorsEntry& e : reader.entries()) {
    Tensor t = empty(e.shape, e.dtype, Device::cpu);
    const size_t bytes = static_cast<size_t>(e.end - e.begin);
    GLIA_CHECK(bytes == static_cast<size_t>(t.numel()) * t.itemsize(),
               path << ": tensor '" << e.name << "' has " << bytes << " bytes for shape " << shape_str(e.shape));
    if (bytes > 0) std::memcpy(t.data_ptr(), reader.data(e), bytes);
    out.emplace(e.name, t);
  }
  return out;
}

}  // namespace

std::map<std::string, Tensor> read_tensors(const std::string& path) { return copy_tensors(SafetensorsReader(path)); }

void write_tensors(const std::string& path, const NamedTensors& tensors,
                   const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> host;  // keeps the host copies alive while writing
  std::vector<SafetensorsItem> items;
  host.reserve(tensors.size());
  for (const auto& nt : tensors) {
    host.push_back(nt.second.detach().to(Device::cpu).contiguous());
    SafetensorsItem item;
    item.name = nt.first;
    item.dtype = host.back().dtype();
    item.shape = host.back().sizes();
    item.data = host.back().data_ptr();
    items.push_back(item);
  }
  write_safetensors(path, items, metadata);
}

void load_state_dict(Module& module, const std::map<std::string, Tensor>& source, const LoadOptions& options) {
  std::vector<std::string> problems;
  std::set<std::string> used;
  NamedTensors targets;
  auto under_prefix = [&](const std::string& name) { return name.rfind(options.prefix, 0) == 0; };
  for (auto& nt : module.state_dict())
    if (under_prefix(nt.first)) targets.push_back(nt);
  GLIA_CHECK(!targets.empty(), "load_state_dict(" << module.type_name() << ") from " << options.source
                                                  << ": the model has no tensor under the prefix '" << options.prefix
                                                  << "'");
  for (const auto& nt : targets) {
    auto it = source.find(nt.first);
    if (it == source.end()) {
      problems.push_back("missing tensor '" + nt.first + "' (model expects " + shape_str(nt.second.sizes()) + " " +
                         dtype_name(nt.second.dtype()) + ")");
      continue;
    }
    used.insert(nt.first);
    const Tensor& src = it->second;
    if (src.sizes() != nt.second.sizes()) {
      problems.push_back("shape mismatch for '" + nt.first + "': source " + shape_str(src.sizes()) + ", model " +
                         shape_str(nt.second.sizes()));
    } else if (src.dtype() != nt.second.dtype()) {
      problems.push_back("dtype mismatch for '" + nt.first + "': source " + dtype_name(src.dtype()) + ", model " +
                         dtype_name(nt.second.dtype()) + " (shape " + shape_str(src.sizes()) + ")");
    }
  }
  if (options.strict)
    for (const auto& s : source)
      if (under_prefix(s.first) && !used.count(s.first))
        problems.push_back("unexpected tensor '" + s.first + "' " + shape_str(s.second.sizes()) +
                           " (the model has no such parameter or buffer)");
  if (!problems.empty()) {
    std::ostringstream os;
    os << "load_state_dict(" << module.type_name() << ") from " << options.source << ": " << problems.size()
       << " problem(s):";
    const size_t shown = std::min<size_t>(problems.size(), 20);
    for (size_t i = 0; i < shown; ++i) os << "\n  " << problems[i];
    if (shown < problems.size()) os << "\n  ... and " << problems.size() - shown << " more";
    GLIA_FAIL(os.str());
  }
  NoGradGuard no_grad;
  for (const auto& nt : targets) {
    Tensor dst = nt.second;
    dst.copy_(source.at(nt.first));
  }
}

void load_state_dict(Module& module, const std::string& path, bool strict) {
  LoadOptions o;
  o.strict = strict;
  o.source = path;
  SafetensorsReader reader(path);
  require_finite_weights(reader);
  load_state_dict(module, copy_tensors(reader), o);
}

void save_state_dict(const Module& module, const std::string& path, const std::map<std::string, std::string>& metadata) {
  write_tensors(path, module.state_dict(), metadata);
}

}  // namespace glia::nn
