// demo: trains and evaluates both networks briefly at reduced sizes, then runs the
// integrated model on a few test images. Without --data it first draws synthetic MRI
// phantoms (io/phantom.h); with --data it uses the real layouts below that folder
// (brain-tumor-mri/ and lgg-mri-segmentation/kaggle_3m/), on a subset.
//
// The phantoms of the two networks look alike: the segmenter's are drawn in the
// classification phantoms' look (gray, gliomas, meningiomas and pituitary tumours), so
// the U-Net outlines the tumours of the images the classifier calls tumours. (In the
// LGG look — gliomas only, brighter in a FLAIR channel — it found none in them.)
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <iomanip>
#include <iostream>

#include "apps/app.h"
#include "io/classification_dataset.h"
#include "io/files.h"
#include "io/phantom.h"
#include "nets/efficientnet.h"
#include "tensor/json.h"

namespace glia::app {
namespace fs = std::filesystem;
namespace {

// The converted Lite0 ImageNet weights `scripts/glia weights lite0` installs: the cache
// folder ($GLIA_CACHE, else $XDG_CACHE_HOME/glia, else ~/.cache/glia), then
// weights/efficientnet_lite0.safetensors. Empty when not installed. (apps/weights.h of
// the Lite work has the same rule as weights_cache_dir(); use it once both are in.)
std::string installed_lite0_weights() {
  std::string cache;
  if (const char* c = std::getenv("GLIA_CACHE"); c != nullptr && *c != 0) cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != 0) cache = std::string(x) + "/glia";
  else if (const char* h = std::getenv("HOME"); h != nullptr && *h != 0) cache = std::string(h) + "/.cache/glia";
  else return "";
  const std::string path = cache + "/weights/efficientnet_lite0.safetensors";
  std::error_code ec;
  return fs::is_regular_file(path, ec) ? path : "";
}

bool model_known(const std::string& variant) {
  try {
    nets::efficientnet_config(variant, 4);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

int demo(DemoOptions o) {
  parse_device_flag(o.device);
  set_threads(o.threads);
  GLIA_USAGE_CHECK(o.epochs >= 0, "--epochs " << o.epochs << " must be >= 0");
  std::string cls_data, seg_data;
  if (!o.data.empty()) {
    require_path(o.data, "--data");
    cls_data = (fs::path(o.data) / "brain-tumor-mri").string();
    seg_data = (fs::path(o.data) / "lgg-mri-segmentation" / "kaggle_3m").string();
    require_path(cls_data, "--data (brain-tumor-mri/ inside it)");
    require_path(seg_data, "--data (lgg-mri-segmentation/kaggle_3m/ inside it)");
  }
  if (o.out.empty()) o.out = default_run_dir("demo");
  prepare_run_dir(o.out, o.overwrite, false, "demo", "{\"data\": " + Json(o.data).dump() + "}");
  const auto start = std::chrono::steady_clock::now();
  if (o.data.empty()) {
    cls_data = o.out + "/data/brain-tumor-mri";
    seg_data = o.out + "/data/lgg-mri-segmentation/kaggle_3m";
    if (!o.quiet) std::cout << "demo: drawing synthetic MRI phantoms into " << o.out << "/data" << std::endl;
    io::write_classification_phantoms(cls_data, 64, 10, 64, o.seed);
    io::write_segmentation_phantoms(seg_data, 15, 12, 64, o.seed, true, io::SegmentationPhantomLook::classification);
  }

  // Reduced sizes so both fit in a few minutes on 2 cores: EfficientNet-B0 from scratch
  // (or Lite0 from its ImageNet weights when installed) at 64 px, a U-Net of width 8 and
  // depth 3 at 64 px; the paper's optimiser settings otherwise, the U-Net's learning rate
  // raised to 1e-3 because the demo trains for only a few epochs.
  TrainOptions cls;
  cls.data = cls_data;
  cls.out = o.out + "/classifier";
  cls.model = "b0";
  std::string cls_title = "EfficientNet-B0 from scratch";
  const std::string lite0 = installed_lite0_weights();
  if (lite0.empty()) {
    if (!o.quiet)
      std::cout << "demo: pretrained Lite0 weights not installed (scripts/glia weights lite0); training from scratch"
                << std::endl;
  } else if (!model_known("lite0")) {
    if (!o.quiet)
      std::cout << "demo: pretrained Lite0 weights found (" << lite0
                << "), but this build has no Lite0 model; training from scratch" << std::endl;
  } else {
    cls.model = "lite0";
    cls.pretrained = lite0;
    cls_title = "EfficientNet-Lite0 from ImageNet weights";
    if (!o.quiet) std::cout << "demo: using pretrained Lite0 weights " << lite0 << std::endl;
  }
  cls.image_size = 64;
  // ~3 s an epoch. On phantoms, test accuracy was 0.575 and 0.65 after 20 epochs in two
  // runs, 0.3 in a third (the plateau schedule had cut the rate to 2e-7 by epoch 20);
  // after 5 it stayed near chance (0.25-0.375).
  cls.epochs = o.epochs > 0 ? o.epochs : 20;
  cls.batch_size = 8;  // more optimiser steps from few images
  cls.lr = 1e-3;
  cls.device = o.device;
  cls.threads = o.threads;
  cls.seed = o.seed;
  cls.patience = 100;
  cls.quiet = o.quiet;
  if (!o.data.empty()) cls.max_images = 480;
  if (!o.quiet) std::cout << "\n== classifier: " << cls_title << " + the paper's head, 64 px ==" << std::endl;
  const RunResult c = train_classifier(cls);

  TrainOptions seg;
  seg.data = seg_data;
  seg.out = o.out + "/segmenter";
  seg.width = 8;
  seg.depth = 3;
  seg.image_size = 64;
  // ~2 s an epoch. Test Dice after 15: ~0.94 on the LGG-look phantoms (0.14 after 5),
  // 0.80 on the classification-look ones the demo now draws (all three tumour types).
  seg.epochs = o.epochs > 0 ? o.epochs : 15;
  seg.batch_size = 8;
  seg.lr = 1e-3;
  seg.device = o.device;
  seg.threads = o.threads;
  seg.seed = o.seed;
  seg.val_fraction = 0.2;
  seg.test_fraction = 0.2;
  seg.patience = 100;
  seg.quiet = o.quiet;
  if (!o.data.empty()) seg.max_images = 400;
  if (!o.quiet) std::cout << "\n== segmenter: residual U-Net, width 8, depth 3, 64 px ==" << std::endl;
  const RunResult s = train_segmenter(seg);

  // The integrated model on two test images of each class (or training images when the
  // data has no Testing/ split).
  PredictOptions p;
  p.classifier = c.dir + "/best.ckpt";
  p.segmenter = s.dir + "/best.ckpt";
  p.out = o.out + "/predict";
  p.device = o.device;
  p.threads = o.threads;
  p.quiet = o.quiet;
  p.explain = true;  // Grad-CAM maps beside the overlays
  const std::string split = fs::exists(cls_data + "/Testing") ? "/Testing/" : "/Training/";
  for (const char* name : io::tumour_class_names()) {
    const auto files = io::list_directory(cls_data + split + name, "class folder");
    for (size_t i = 0; i < files.size() && i < 2; ++i) p.inputs.push_back(files[i].string());
  }
  if (!o.quiet) std::cout << "\n== integrated model: classify, then segment the tumours ==" << std::endl;
  predict(p);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto get = [](const Metrics& m, const std::string& k) {
    for (const auto& [name, v] : m)
      if (name == k) return v;
    return std::numeric_limits<double>::quiet_NaN();
  };
  const Metrics& ct = c.test.empty() ? c.validation : c.test;
  const Metrics& st = s.test.empty() ? s.validation : s.test;
  std::cout << std::setprecision(3) << "\ndemo summary (" << (o.data.empty() ? "synthetic phantoms" : o.data) << ", "
            << seconds << " s):\n"
            << "  classifier: " << cls_title << ", " << (c.test.empty() ? "validation" : "test") << " accuracy " << get(ct, "accuracy")
            << ", macro F1 " << get(ct, "macro_f1") << " (" << c.fit.epochs_run << " epochs, " << c.seconds_per_epoch
            << " s/epoch)\n"
            << "  segmenter:  " << (s.test.empty() ? "validation" : "test") << " Dice " << get(st, "dice") << ", IoU "
            << get(st, "iou") << ", HD95 " << get(st, "hd95") << " px (" << s.fit.epochs_run << " epochs, "
            << s.seconds_per_epoch << " s/epoch)\n"
            << "  outputs in " << o.out << " (history.csv, metrics.json, curves.png, confusion.png, examples/, predict/)"
            << std::endl;
  return 0;
}

}  // namespace glia::app
