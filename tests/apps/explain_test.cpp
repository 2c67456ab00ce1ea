// predict --explain: a Grad-CAM heat map per image beside the overlay, the same size,
// and nothing of the kind without the flag.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "apps/app.h"
#include "io/phantom.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

TEST(PredictExplain, WritesAGradCamMapBesideEachOverlay) {
  const std::string root = (fs::temp_directory_path() / ("glia_explain_test_" + std::to_string(::getpid()))).string();
  fs::remove_all(root);
  io::write_classification_phantoms(root + "/cls", 4, 1, 48, 5);
  app::TrainOptions t;
  t.data = root + "/cls";
  t.out = root + "/run";
  t.model = "b0";
  t.image_size = 32;
  t.epochs = 1;
  t.batch_size = 4;
  t.max_batches = 2;
  t.threads = 2;
  t.quiet = true;
  app::train_classifier(t);

  app::PredictOptions p;
  p.inputs = {root + "/cls/Testing/glioma", root + "/cls/Testing/meningioma"};
  p.classifier = root + "/run/best.ckpt";
  p.out = root + "/plain";
  p.quiet = true;
  ASSERT_EQ(app::predict(p), 0);
  EXPECT_TRUE(fs::exists(root + "/plain/Te-gl_0_overlay.png"));
  EXPECT_FALSE(fs::exists(root + "/plain/Te-gl_0_gradcam.png"));

  p.out = root + "/explained";
  p.explain = true;
  ASSERT_EQ(app::predict(p), 0);
  for (const char* stem : {"Te-gl_0", "Te-me_0"}) {
    const cv::Mat overlay = cv::imread(root + "/explained/" + stem + "_overlay.png");
    const cv::Mat cam = cv::imread(root + "/explained/" + stem + "_gradcam.png");
    ASSERT_FALSE(cam.empty()) << stem << "_gradcam.png missing or unreadable";
    EXPECT_EQ(cam.size(), overlay.size()) << stem;
    EXPECT_EQ(cam.channels(), 3);
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace glia
