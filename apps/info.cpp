// info: a model summary: every leaf layer with its output shape, parameters and
// multiply-accumulates, and the totals (FLOPs = 2 x MACs).
#include <iomanip>
#include <iostream>

#include "apps/app.h"

namespace glia::app {

int info(const InfoOptions& o) {
  ModelSpec spec;
  if (!o.checkpoint.empty()) {
    require_path(o.checkpoint, "--checkpoint");
    GLIA_USAGE_CHECK(!o.image_size, "--image-size with --checkpoint: the checkpoint's model fixes the size");
    spec = checkpoint_spec(o.checkpoint);
  } else {
    spec = model_spec_from_flags(o.model, o.width, o.depth, o.image_size);
  }
  check_image_size(spec);
  GLIA_USAGE_CHECK(o.batch >= 1, "--batch " << o.batch << " must be >= 1");
  auto model = build_model(spec, 0);
  const nn::Summary s = nn::summarize(*model, {o.batch, 3, spec.image_size, spec.image_size});
  std::cout << "model " << spec.to_string() << ", input [" << o.batch << ", 3, " << spec.image_size << ", "
            << spec.image_size << "]\n"
            << s.to_string() << std::setprecision(4) << "= " << s.total_params / 1e6 << " M parameters, "
            << 2.0 * s.total_macs / 1e9 << " GFLOPs per forward" << std::endl;
  return 0;
}

}  // namespace glia::app
