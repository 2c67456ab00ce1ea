// What the trainer and the command line add to train/checkpoint.h:
//   - exact_json / parse_exact_json: JSON text whose numbers keep all 17 digits
//     (Json::dump() writes 9, enough for floats but not for a learning rate or a
//     monitored best that must come back bit for bit on --resume);
//   - load_module_state: copy named tensors into a module, refusing any mismatch (a
//     checkpoint of another model);
//   - read_model_weights: the weights of a glia checkpoint or of a plain safetensors file.
#pragma once
#include <map>
#include <string>

#include "layers/module.h"
#include "tensor/json.h"
#include "tensor/tensor.h"

namespace glia {

std::string exact_json(const Json& value);

// Copies `tensors` into the module's parameters and buffers by name. Every name must be
// present with the same shape and no extra names may remain, else an error naming
// `what` (e.g. the file) and the first mismatching tensor.
void load_module_state(nn::Module& module, const std::map<std::string, Tensor>& tensors, const std::string& what);

// The model tensors of a glia checkpoint (train/checkpoint.h; *model gets its model
// identity) or every tensor of a plain safetensors file (*model gets ""). Either way a
// NaN/inf value is an error naming the file and tensor (tensor/finite.h).
std::map<std::string, Tensor> read_model_weights(const std::string& path, std::string* model = nullptr);

}  // namespace glia
