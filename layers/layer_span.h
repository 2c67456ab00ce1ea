// The profiler's layer span for a module entry point other than operator() (which opens
// its own): BatchNorm2d::add_relu. Named as ProfileLayers (layers/module.h) names the
// module; nothing while no recording is on or the module is not named.
#pragma once
#include "layers/module.h"

namespace glia::nn {

class LayerSpan {
 public:
  explicit LayerSpan(const Module& m);
  ~LayerSpan();
  LayerSpan(const LayerSpan&) = delete;
  LayerSpan& operator=(const LayerSpan&) = delete;

 private:
  int span_ = -1;
};

}  // namespace glia::nn
