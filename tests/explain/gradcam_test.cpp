// Grad-CAM arithmetic (nets/gradcam.h): a hand-made head whose map is worked out by hand;
// the up-sampling against PyTorch's bilinear formula; EfficientNet's channel weights
// against finite differences of its head; the side effects it must not have (gradients
// on parameters, grad mode); bad arguments; and the heat-map image (io/heatmap.h).
#include <gtest/gtest.h>

#include <cmath>

#include "io/heatmap.h"
#include "layers/basic.h"
#include "nets/efficientnet.h"
#include "nets/gradcam.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace glia {
namespace {

// A [1, 2, 2, 3]; the head is Linear(12 -> 3) over the flattened map, so d logit_c / dA
// is row c of W laid out as A: the map can be worked out by hand.
//   channel 0: [[1, -2, 3], [0.5, 4, -1]]    channel 1: [[2, 1, -3], [1, 0, 2]]
//   class 1's row: channel 0 [1 0 0 0 0 2], channel 1 [0 0 -3 0 0 0]
//     logit 1*1 + 2*(-1) + (-3)*(-3) = 8; alpha = (3/6, -3/6) = (0.5, -0.5)
//     L = ReLU(0.5 A0 - 0.5 A1) = ReLU([-0.5 -1.5 3; -0.25 2 -1.5]) = [0 0 3; 0 2 0]
//   class 0's row: all 0.1 -> logit 0.1 * sum(A) = 0.85, alpha = (0.1, 0.1),
//     L = ReLU(0.1 (A0 + A1)) = [0.3 0 0; 0.15 0.4 0.1]
//   class 2's row: zeros, bias 1 -> logit 1, no evidence anywhere: L = 0.
struct HandCase {
  Tensor a = from_vector(std::vector<float>{1, -2, 3, 0.5f, 4, -1, 2, 1, -3, 1, 0, 2}, {1, 2, 2, 3});
  nn::Linear head{12, 3};
  HandCase() {
    NoGradGuard no_grad;
    std::vector<float> w(36, 0.0f);
    for (int i = 0; i < 12; ++i) w[static_cast<size_t>(i)] = 0.1f;
    w[12 + 0] = 1, w[12 + 5] = 2, w[12 + 6 + 2] = -3;
    head.weight.copy_(from_vector(w, {3, 12}));
    head.bias.copy_(from_vector(std::vector<float>{0, 0, 1}, {3}));
  }
  nets::GradCam cam(int class_index, int64_t h = 0, int64_t w = 0) {
    return nets::grad_cam(a, [this](const Tensor& fm) { return head(fm.flatten(1)); }, class_index, h, w, &head);
  }
};

void expect_near_all(const std::vector<float>& actual, const std::vector<double>& expected, double tol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tol) << "element " << i;
}

TEST(GradCam, HandMadeHeadGivesTheHandComputedMap) {
  HandCase t;
  const nets::GradCam cam = t.cam(-1);  // the predicted class: logit 8 of class 1
  EXPECT_EQ(cam.label, 1);
  expect_near_all(cam.logits, {0.85, 8, 1}, 1e-5);
  expect_near_all(cam.weights, {0.5, -0.5}, 1e-6);
  EXPECT_EQ(cam.height, 2);
  EXPECT_EQ(cam.width, 3);
  expect_near_all(cam.map, {0, 0, 3, 0, 2, 0}, 1e-6);

  const nets::GradCam c0 = t.cam(0);
  EXPECT_EQ(c0.label, 0);
  expect_near_all(c0.weights, {0.1, 0.1}, 1e-6);
  expect_near_all(c0.map, {0.3, 0, 0, 0.15, 0.4, 0.1}, 1e-6);

  const nets::GradCam c2 = t.cam(2);
  expect_near_all(c2.map, {0, 0, 0, 0, 0, 0}, 0);
  EXPECT_EQ(c2.max(), 0.0f);
}

// PyTorch's bilinear up-sampling with align_corners=False, written out: output pixel i
// samples the input at (i + 0.5) * in / out - 0.5, clamped at 0.
double bilinear_at(const std::vector<double>& src, int in_h, int in_w, int out_h, int out_w, int y, int x) {
  auto coord = [](int i, int in, int out, int& i0, int& i1, double& f) {
    double s = std::max(0.0, (i + 0.5) * in / out - 0.5);
    i0 = std::min(static_cast<int>(s), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    f = s - i0;
  };
  int y0, y1, x0, x1;
  double fy, fx;
  coord(y, in_h, out_h, y0, y1, fy);
  coord(x, in_w, out_w, x0, x1, fx);
  auto v = [&](int yy, int xx) { return src[static_cast<size_t>(yy * in_w + xx)]; };
  return (1 - fy) * ((1 - fx) * v(y0, x0) + fx * v(y0, x1)) + fy * ((1 - fx) * v(y1, x0) + fx * v(y1, x1));
}

TEST(GradCam, UpSamplesTheMapBilinearlyToTheAskedSize) {
  HandCase t;
  const std::vector<double> small = {0, 0, 3, 0, 2, 0};
  const nets::GradCam cam = t.cam(1, 5, 7);
  ASSERT_EQ(cam.height, 5);
  ASSERT_EQ(cam.width, 7);
  std::vector<double> expected;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) expected.push_back(bilinear_at(small, 2, 3, 5, 7, y, x));
  expect_near_all(cam.map, expected, 1e-6);
  EXPECT_NEAR(cam.max(), 3.0, 1e-6);  // the top-right cell's value, reached in the corner
}

TEST(GradCam, LeavesParametersWithoutGradientsAndGradModeAsItWas) {
  HandCase t;
  {
    NoGradGuard no_grad;  // as in predict
    t.cam(1);
    EXPECT_FALSE(grad_enabled());
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_TRUE(t.head.weight.requires_grad());
  EXPECT_FALSE(t.head.weight.grad().defined());
  EXPECT_FALSE(t.head.bias.grad().defined());
  EXPECT_FALSE(t.a.requires_grad());
}

TEST(GradCam, PeakIsTheCentreOfAFlatMaximum) {
  nets::GradCam cam;
  cam.height = 4, cam.width = 5;
  cam.map.assign(20, 0.0f);
  // A flat maximum along the top edge from x = 2 to 4 (as bilinear up-sampling leaves it
  // when the largest cell is on the border) and a single lower bump elsewhere.
  cam.map[2] = cam.map[3] = cam.map[4] = 2.0f;
  cam.map[16] = 1.0f;
  const nets::MapPeak p = nets::map_peak(cam);
  EXPECT_DOUBLE_EQ(p.x, 3.0);
  EXPECT_DOUBLE_EQ(p.y, 0.0);
}

TEST(GradCam, BadArgumentsAreClearErrors) {
  HandCase t;
  auto head = [&t](const Tensor& fm) { return t.head(fm.flatten(1)); };
  try {
    t.cam(3);
    FAIL() << "class 3 of 3 logits accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("class 3 is out of range for 3 logits"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nets::grad_cam(zeros({2, 2, 2, 3}), head), Error);  // two images
  EXPECT_THROW(nets::grad_cam(zeros({2, 2, 3}), head), Error);     // not 4-D
  EXPECT_THROW(t.cam(1, 4, 0), Error);                              // half an output size
}

// EfficientNet-B0 with random weights in float64: the logits are the model's, the channel
// weights are the finite differences of the head (shifting channel k of A by eps
// everywhere changes logit c by eps * sum_ij dy_c/dA_kij = eps * h * w * alpha_k), and
// the map is ReLU(sum_k alpha_k A_k) of the model's own feature map.
TEST(GradCam, EfficientNetWeightsMatchFiniteDifferencesOfItsHead) {
  manual_seed(21);
  nets::EfficientNetConfig config = nets::efficientnet_config("b0", 4);
  config.hidden = 512;  // the paper's head, as glia train-cls builds it
  // Untrained batch norm (running variance 1) shrinks the activations of a random
  // network to ~1e-14 in eval mode, where every head unit sits on ReLU's kink. One
  // training-mode forward with momentum 1 sets the running statistics to a batch's, so
  // the activations have their usual scale.
  config.norm.momentum = 1.0;
  auto model = std::make_shared<nets::EfficientNet>(config);
  model->to(DType::f64);
  {
    NoGradGuard no_grad;
    model->train();
    model->forward(rand({4, 3, 64, 64}, DType::f64));
  }
  model->eval();
  const Tensor x = rand({1, 3, 64, 64}, DType::f64);
  Tensor logits, a;
  {
    NoGradGuard no_grad;
    logits = model->forward(x);
    a = model->feature_map(x);
  }
  ASSERT_EQ(a.sizes(), (Shape{1, 1280, 2, 2}));
  const int c = 2;
  const nets::GradCam cam = nets::grad_cam(*model, x, c, 0, 0);
  EXPECT_EQ(cam.height, 64);
  EXPECT_EQ(cam.width, 64);
  EXPECT_EQ(cam.label, c);
  const std::vector<double> expected_logits = logits.to_vector<double>();
  for (size_t k = 0; k < 4; ++k) EXPECT_NEAR(cam.logits[k], expected_logits[k], 1e-5 * (1 + std::fabs(expected_logits[k])));
  ASSERT_EQ(cam.weights.size(), 1280u);

  NoGradGuard no_grad;
  const std::vector<double> av = a.to_vector<double>();
  double a_scale = 0;
  for (double v : av) a_scale = std::max(a_scale, std::fabs(v));
  ASSERT_GT(a_scale, 1e-3) << "the feature map vanished; the finite differences would sit on ReLU kinks";
  const double eps = 1e-6 * a_scale;
  double scale = 0;
  for (float w : cam.weights) scale = std::max(scale, static_cast<double>(std::fabs(w)));
  ASSERT_GT(scale, 0);
  for (int64_t k : {0, 7, 300, 1279}) {
    std::vector<double> shift(1280, 0.0);
    shift[static_cast<size_t>(k)] = eps;
    const Tensor e = from_vector(shift, {1, 1280, 1, 1}, DType::f64);
    const double up = model->classify_feature_map(add(a, e)).to_vector<double>()[c];
    const double down = model->classify_feature_map(sub(a, e)).to_vector<double>()[c];
    EXPECT_NEAR(cam.weights[static_cast<size_t>(k)], (up - down) / (2 * eps * 4), 1e-6 * scale) << "channel " << k;
  }
  // The map at the feature map's resolution (2 x 2), from the model's own A.
  const nets::GradCam coarse = nets::grad_cam(*model, x, c, 2, 2);
  double map_scale = 0;
  for (int p = 0; p < 4; ++p) {
    double s = 0;
    for (size_t k = 0; k < 1280; ++k) s += static_cast<double>(cam.weights[k]) * av[k * 4 + static_cast<size_t>(p)];
    EXPECT_NEAR(coarse.map[static_cast<size_t>(p)], std::max(0.0, s), 1e-5 * std::fabs(s)) << "cell " << p;
    map_scale = std::max(map_scale, s);
  }
  EXPECT_GT(map_scale, 0) << "no cell has positive evidence: the check above is empty";
  for (const Tensor& param : model->parameters()) EXPECT_FALSE(param.grad().defined());
}

TEST(HeatmapOverlay, ColoursTheHottestPixelRedAndTheColdestBlue) {
  const int h = 4, w = 8;  // enlarged x32 to 128 x 256 (256 / max side)
  std::vector<float> image(3 * h * w, 0.5f), heat(h * w, 0.0f);
  heat[5] = 2.0f;  // row 0, column 5
  const cv::Mat out = io::heatmap_overlay_image(image.data(), 3, h, w, heat.data());
  ASSERT_EQ(out.rows, 4 * 32);
  ASSERT_EQ(out.cols, 8 * 32);
  ASSERT_EQ(out.type(), CV_8UC3);
  const cv::Vec3b hot = out.at<cv::Vec3b>(16, 5 * 32 + 16), cold = out.at<cv::Vec3b>(100, 16);
  EXPECT_GT(hot[2], hot[0] + 50) << "the peak is red (BGR)";
  EXPECT_GT(cold[0], cold[2] + 50) << "no evidence is blue (BGR)";
  heat[3] = -1.0f;
  try {
    io::heatmap_overlay_image(image.data(), 3, h, w, heat.data());
    FAIL() << "a negative heat value was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pixel 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glia
