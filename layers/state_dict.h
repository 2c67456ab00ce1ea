// A module's state_dict to and from safetensors files (format and validation in
// tensor/safetensors.h). Loading is strict by default: every problem — a tensor the
// model needs that the file lacks, a tensor in the file the model does not have, a
// shape or dtype that differs — is collected and reported in one Error that names each
// tensor with both shapes/dtypes, so a wrong checkpoint is diagnosed in one run.
#pragma once
#include <map>
#include <string>

#include "layers/module.h"

namespace glia::nn {

// Every tensor of a safetensors file, as cpu tensors (copied out of the mapping); data
// files may hold NaN/inf, weights may not: load_state_dict(module, path) refuses them
// (tensor/finite.h).
std::map<std::string, Tensor> read_tensors(const std::string& path);
// Writes named tensors (any device; copied to the host) atomically.
void write_tensors(const std::string& path, const NamedTensors& tensors,
                   const std::map<std::string, std::string>& metadata = {});

struct LoadOptions {
  bool strict = true;             // unexpected tensors in the source are errors
  std::string source = "tensors";  // how errors name the source (a file path)
  // Non-empty: only the model's tensors under this prefix (e.g. "features.") are loaded,
  // and only the source's tensors under it are considered — ImageNet weights into the
  // paper classifier's base, whose head differs.
  std::string prefix;
};
// Copies source[name] into each parameter and buffer (keeping the module's device and
// autograd flags). Shapes and dtypes must match exactly.
void load_state_dict(Module& module, const std::map<std::string, Tensor>& source, const LoadOptions& options = {});
void load_state_dict(Module& module, const std::string& path, bool strict = true);
void save_state_dict(const Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace glia::nn
