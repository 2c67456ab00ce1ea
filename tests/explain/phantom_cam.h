// Shared by the Grad-CAM tests on phantoms: a classifier trained briefly on synthetic MRI
// phantoms (io/phantom.h), whose tumour masks are exact, and the pointing game (Zhang et
// al. 2016, used to evaluate Grad-CAM): a hit when the map's peak lies within `tolerance`
// pixels of a tumour pixel. Chance is the same game played by a point dropped uniformly
// on the image: the fraction of pixels within `tolerance` of the tumour, averaged over
// the images, computed exactly from the masks.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <numeric>
#include <random>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "io/phantom.h"
#include "nets/gradcam.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/optimizer.h"

namespace glia::test {

struct PhantomSample {
  std::vector<float> chw;  // 3 x size x size: the gray slice in every channel, as decode_image gives it
  cv::Mat mask;            // CV_8UC1, 1 = tumour
  int label = 0;
};

inline PhantomSample phantom_sample(int label, int size, uint64_t id, uint64_t seed = 11) {
  io::Phantom p = io::make_phantom({label, size, seed, id, id, 1.0f});
  PhantomSample s;
  s.label = label;
  s.mask = p.mask;
  const size_t plane = static_cast<size_t>(size) * size;
  s.chw.resize(3 * plane);
  for (size_t c = 0; c < 3; ++c) std::copy(p.image.ptr<float>(0), p.image.ptr<float>(0) + plane, s.chw.begin() + c * plane);
  return s;
}

// Trains `model` (logits [N, 4]) with Adam and cross-entropy on `per_class` phantoms of
// each class (anatomy ids 0..per_class-1), shuffled each epoch with a fixed seed.
inline void train_on_phantoms(nn::Module& model, int size, int per_class, int epochs, int batch, double lr) {
  std::vector<PhantomSample> train;
  for (int i = 0; i < per_class; ++i)
    for (int c = 0; c < 4; ++c) train.push_back(phantom_sample(c, size, static_cast<uint64_t>(i)));
  model.train();
  Adam::Options ao;
  ao.lr = lr;
  Adam opt(model.named_parameters(), ao);
  std::mt19937 rng(5);
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const size_t plane = 3 * static_cast<size_t>(size) * size;
  const auto start = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int batches = 0;
    for (size_t b = 0; b + 1 < order.size(); b += static_cast<size_t>(batch)) {
      const size_t n = std::min(order.size() - b, static_cast<size_t>(batch));
      std::vector<float> x(n * plane);
      std::vector<int64_t> y(n);
      for (size_t i = 0; i < n; ++i) {
        const PhantomSample& s = train[order[b + i]];
        std::copy(s.chw.begin(), s.chw.end(), x.begin() + static_cast<std::ptrdiff_t>(i * plane));
        y[i] = s.label;
      }
      opt.zero_grad();
      const int64_t ni = static_cast<int64_t>(n);
      Tensor loss = cross_entropy(model(from_vector(x, {ni, 3, size, size})), from_vector(y, {ni}));
      loss.backward();
      opt.step();
      loss_sum += loss.item<float>();
      ++batches;
    }
    std::cout << "  epoch " << e + 1 << ": loss " << loss_sum / batches << " ("
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s)" << std::endl;
  }
  model.eval();
}

struct PointingGame {
  int images = 0, hits = 0;  // tumour images
  int classified = 0, correct = 0;  // every image, notumor included
  double chance = 0;
  double rate() const { return images ? static_cast<double>(hits) / images : 0.0; }
  double accuracy() const { return classified ? static_cast<double>(correct) / classified : 0.0; }
};

// Plays the pointing game on `per_class` held-out phantoms of each tumour class (anatomy
// ids from 1000000, never trained on), with the Grad-CAM of the true class; `explain`
// returns it for an image [1, 3, size, size] up-sampled to size x size. Accuracy counts
// the notumor class too.
inline PointingGame pointing_game(const std::function<nets::GradCam(const Tensor&, int)>& explain, int size,
                                  int per_class, double tolerance) {
  PointingGame g;
  for (int i = 0; i < per_class; ++i) {
    for (int c = 0; c < 4; ++c) {
      const PhantomSample s = phantom_sample(c, size, 1000000u + static_cast<uint64_t>(i));
      const nets::GradCam cam = explain(from_vector(s.chw, {1, 3, size, size}), c);
      EXPECT_EQ(cam.height, size);
      EXPECT_EQ(cam.width, size);
      const int predicted = static_cast<int>(std::max_element(cam.logits.begin(), cam.logits.end()) - cam.logits.begin());
      g.correct += predicted == c;
      ++g.classified;
      if (c == 2) continue;  // notumor: nothing to point at
      cv::Mat distance;
      cv::distanceTransform(s.mask == 0, distance, cv::DIST_L2, cv::DIST_MASK_PRECISE);
      const nets::MapPeak peak = nets::map_peak(cam);
      const int px = std::clamp(static_cast<int>(peak.x + 0.5), 0, size - 1);
      const int py = std::clamp(static_cast<int>(peak.y + 0.5), 0, size - 1);
      g.hits += distance.at<float>(py, px) <= tolerance;
      g.chance += static_cast<double>(cv::countNonZero(distance <= tolerance)) / (static_cast<double>(size) * size);
      ++g.images;
    }
  }
  g.chance /= std::max(1, g.images);
  return g;
}

}  // namespace glia::test
