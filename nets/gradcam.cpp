#include "nets/gradcam.h"

#include <algorithm>
#include <cmath>

#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia::nets {
namespace {

// Switches requires_grad off on every parameter of a module while alive, then restores
// each one's own setting (a frozen base's parameters stay off).
class ParametersGradOff {
 public:
  explicit ParametersGradOff(nn::Module* m) {
    if (!m) return;
    params_ = m->parameters();
    for (const Tensor& p : params_) {
      was_.push_back(p.requires_grad());
      p.requires_grad_(false);
    }
  }
  ~ParametersGradOff() {
    for (size_t i = 0; i < params_.size(); ++i) params_[i].requires_grad_(was_[i]);
  }
  ParametersGradOff(const ParametersGradOff&) = delete;
  ParametersGradOff& operator=(const ParametersGradOff&) = delete;

 private:
  std::vector<Tensor> params_;
  std::vector<bool> was_;
};

}  // namespace

float GradCam::max() const { return map.empty() ? 0.0f : *std::max_element(map.begin(), map.end()); }

GradCam grad_cam(const Tensor& feature_map, const std::function<Tensor(const Tensor&)>& head, int class_index,
                 int64_t out_h, int64_t out_w, nn::Module* params) {
  GLIA_CHECK(feature_map.defined() && feature_map.dim() == 4 && feature_map.size(0) == 1,
             "grad_cam: the feature map must be [1, C, h, w] (one image), got "
                 << (feature_map.defined() ? shape_str(feature_map.sizes()) : std::string("an undefined tensor")));
  GLIA_CHECK(out_h >= 0 && out_w >= 0 && (out_h == 0) == (out_w == 0),
             "grad_cam: output size " << out_h << " x " << out_w << " must be both 0 or both positive");
  const int64_t h = out_h > 0 ? out_h : feature_map.size(2), w = out_w > 0 ? out_w : feature_map.size(3);

  GradCam cam;
  Tensor a = feature_map.detach();
  a.requires_grad_(true);
  {
    EnableGradGuard grad_on;
    ParametersGradOff params_off(params);
    const Tensor logits = head(a);
    GLIA_CHECK(logits.dim() == 2 && logits.size(0) == 1,
               "grad_cam: the head must return logits [1, K], got " << shape_str(logits.sizes()));
    cam.logits = logits.to(DType::f32).to_vector<float>();
    const int k = static_cast<int>(cam.logits.size());
    if (class_index < 0)
      class_index = static_cast<int>(std::max_element(cam.logits.begin(), cam.logits.end()) - cam.logits.begin());
    GLIA_CHECK(class_index < k, "grad_cam: class " << class_index << " is out of range for " << k << " logits");
    cam.label = class_index;
    // The class score y_c: the logit itself, before softmax (as in the paper).
    sum(logits.slice(1, class_index, class_index + 1)).backward();
  }
  const Tensor grad = a.grad();
  GLIA_CHECK(grad.defined(), "grad_cam: the class score does not depend on the feature map (no gradient reached it)");

  NoGradGuard no_grad;
  const Tensor alpha = mean(grad, {2, 3}, true);                        // [1, C, 1, 1]
  const Tensor weighted = relu(sum(mul(alpha, a.detach()), {1}, true));  // [1, 1, h', w']
  const Tensor map = (h == a.size(2) && w == a.size(3)) ? weighted : upsample_bilinear2d(weighted, h, w, false);
  cam.weights = alpha.to(DType::f32).to_vector<float>();
  cam.map = map.to(DType::f32).to_vector<float>();
  cam.height = h;
  cam.width = w;
  return cam;
}

GradCam grad_cam(EfficientNet& model, const Tensor& image, int class_index, int64_t out_h, int64_t out_w) {
  GLIA_CHECK(image.dim() == 4 && image.size(0) == 1,
             "grad_cam: " << model.config().name << " explains one image [1, 3, H, W], got "
                          << shape_str(image.sizes()));
  Tensor a;
  {
    NoGradGuard no_grad;  // only the head is differentiated
    a = model.feature_map(image);
  }
  if (out_h == 0 && out_w == 0) out_h = image.size(2), out_w = image.size(3);
  return grad_cam(
      a, [&model](const Tensor& fm) { return model.classify_feature_map(fm); }, class_index, out_h, out_w, &model);
}

MapPeak map_peak(const GradCam& cam) {
  GLIA_CHECK(!cam.map.empty() && static_cast<int64_t>(cam.map.size()) == cam.height * cam.width,
             "map_peak: the Grad-CAM map is empty or not height x width");
  const float top = cam.max();
  const float floor = top - 1e-6f * std::abs(top);
  double sx = 0, sy = 0, n = 0;
  for (int64_t y = 0; y < cam.height; ++y)
    for (int64_t x = 0; x < cam.width; ++x) {
      if (cam.map[static_cast<size_t>(y * cam.width + x)] < floor) continue;
      sx += static_cast<double>(x);
      sy += static_cast<double>(y);
      n += 1;
    }
  return {sx / n, sy / n};
}

}  // namespace glia::nets
