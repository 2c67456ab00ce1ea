// Training checkpoints: everything a run needs to continue bit for bit — model
// parameters and buffers, optimizer moments and step counts, scheduler and
// early-stopping state, RNG state, epoch and data order — in one safetensors file.
// Tensors are named "model/<state_dict name>" and "optimizer/<slot>.<name>"; the rest is
// a JSON document in the header metadata under "glia.checkpoint". Writing is atomic
// (temporary file, fsync, rename): a kill while saving leaves the previous checkpoint.
#pragma once
#include <map>
#include <string>

#include "tensor/json.h"
#include "tensor/tensor.h"
#include "train/optimizer.h"

namespace glia {

struct Checkpoint {
  std::string model;      // identity, e.g. "classifier/efficientnet_b1"; checked on resume
  Json model_config;      // what is needed to rebuild the model (width, depth, classes, ...)
  NamedTensors model_state;
  NamedTensors optimizer_tensors;
  Json optimizer_state;
  Json trainer_state;     // epoch, callbacks, RNG, data order, history: owned by the trainer
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Tensors come back on the cpu. Errors name the file: not a glia checkpoint, truncated,
// written by a newer format, a tensor whose checksum fails, a NaN/inf value (unless
// allowed, tensor/finite.h).
Checkpoint load_checkpoint(const std::string& path);

// Error unless the checkpoint holds `model` ("checkpoint X holds model A, not B").
void require_model(const Checkpoint& checkpoint, const std::string& model, const std::string& path);

// Lookup helpers for restoring: model_state / optimizer_tensors as maps.
std::map<std::string, Tensor> as_map(const NamedTensors& tensors);

}  // namespace glia
