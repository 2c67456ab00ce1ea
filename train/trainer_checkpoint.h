// The trainer's checkpoint file: model weights, optimizer state, the best weights so far
// and the trainer's JSON state (epoch, schedule, early stopping, RNG, data order,
// history), in one safetensors file written atomically (tensor/safetensors.h: temporary
// file, fsync, rename), so a kill while saving leaves the previous checkpoint intact.
//
//   tensors   "model/<name>", "optimizer/<slot>.<name>", "best/<name>"
//   metadata  glia_checkpoint = "trainer-1", model = <model name>,
//             optimizer = <JSON>, trainer = <JSON>
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "layers/module.h"
#include "tensor/json.h"
#include "tensor/tensor.h"

namespace glia {

struct TrainerCheckpoint {
  std::string model_name;
  std::vector<std::pair<std::string, Tensor>> model, optimizer, best;
  Json optimizer_json, trainer;
};

struct LoadedTrainerCheckpoint {
  std::string model_name;
  std::map<std::string, Tensor> model, optimizer, best;  // host tensors
  Json optimizer_json, trainer;
};

void write_trainer_checkpoint(const std::string& path, const TrainerCheckpoint& checkpoint);
// Error naming the file when it is missing, not a glia checkpoint, or malformed.
LoadedTrainerCheckpoint read_trainer_checkpoint(const std::string& path);

// Copies `tensors` into the module's parameters and buffers by name. Every name must be
// present with the same shape and no extra names may remain, else an error naming the
// file (`what`) and the first mismatching tensor: a checkpoint of another model is refused.
void load_module_state(nn::Module& module, const std::map<std::string, Tensor>& tensors, const std::string& what);

// The weights of a checkpoint or a plain safetensors weights file ("model/" prefix
// optional): for --pretrained and the eval/predict commands.
std::map<std::string, Tensor> read_model_weights(const std::string& path, std::string* model_name = nullptr);

}  // namespace glia
