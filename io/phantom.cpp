#include "io/phantom.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/classification_dataset.h"
#include "io/random.h"
#include "kernels/error.h"

namespace glia::io {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kBrain = 0.87;  // elliptical radius where the brain ends and CSF/skull begin

// Smooth random field in [0, 1]: a coarse grid of uniform values, cubic-upsampled.
cv::Mat smooth_field(Rng& rng, int grid, int size) {
  cv::Mat coarse(grid, grid, CV_32FC1);
  for (int y = 0; y < grid; ++y)
    for (int x = 0; x < grid; ++x) coarse.at<float>(y, x) = rng.uniform();
  cv::Mat fine;
  cv::resize(coarse, fine, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  return fine;
}

struct Tumour {
  double u0 = 0, v0 = 0, r0 = 0;  // centre and base radius in head coordinates
  double amp[6] = {0}, phase[6] = {0};
  double aspect = 1;
};

}  // namespace

Phantom make_phantom(const PhantomSpec& spec) {
  GLIA_CHECK(spec.label >= 0 && spec.label < kNumTumourClasses, "make_phantom: label " << spec.label
                                                                                       << " is not 0..3");
  GLIA_CHECK(spec.size >= 16 && spec.size <= 4096, "make_phantom: size " << spec.size << " must be 16..4096");
  const int n = spec.size;
  Rng geo(spec.seed, RngDomain::phantom, static_cast<uint64_t>(spec.label) + 1, spec.anatomy_id);
  // Head: an ellipse, slightly rotated.
  const double ax = geo.uniform(0.72f, 0.82f), ay = geo.uniform(0.85f, 0.95f);
  const double tilt = geo.uniform(-0.12f, 0.12f), ct = std::cos(tilt), st = std::sin(tilt);
  const double vent_dx = geo.uniform(0.09f, 0.14f), vent_len = geo.uniform(0.12f, 0.2f);
  cv::Mat texture = smooth_field(geo, 9, n), tumour_texture = smooth_field(geo, 7, n);

  Tumour t;
  const bool has_tumour = spec.label != 2 && spec.tumour_scale > 0;
  if (spec.label == 0) {  // glioma: one hemisphere, irregular
    double side = geo.bernoulli(0.5f) ? 1 : -1;
    t.u0 = side * geo.uniform(0.22f, 0.4f);
    t.v0 = geo.uniform(-0.35f, 0.3f);
    t.r0 = geo.uniform(0.12f, 0.2f);
    for (int k = 2; k < 6; ++k) t.amp[k] = geo.uniform(0.0f, 0.35f) / k, t.phase[k] = geo.uniform(0, 2 * kPi);
  } else if (spec.label == 1) {  // meningioma: round, against the inner skull surface
    double a = geo.uniform(0, 2 * kPi);
    t.r0 = geo.uniform(0.1f, 0.17f);
    double rim = kBrain - 0.55 * t.r0;  // centre a bit inside the brain edge, so it abuts the skull
    t.u0 = rim * ax * std::cos(a);
    t.v0 = rim * ay * std::sin(a);
  } else if (spec.label == 3) {  // pituitary: small, central-lower midline
    t.u0 = geo.uniform(-0.03f, 0.03f);
    t.v0 = geo.uniform(0.25f, 0.36f);
    t.r0 = geo.uniform(0.05f, 0.085f);
    t.aspect = geo.uniform(0.7f, 1.0f);
  }
  t.r0 *= spec.tumour_scale;
  const float tumour_level = spec.label == 1 ? geo.uniform(0.85f, 0.95f) : geo.uniform(0.68f, 0.8f);

  Phantom p;
  p.label = spec.label;
  p.image.create(n, n, CV_32FC1);
  p.mask = cv::Mat::zeros(n, n, CV_8UC1);
  Rng noise(spec.seed, RngDomain::phantom_noise, static_cast<uint64_t>(spec.label) + 1, spec.noise_id);
  const double half = n / 2.0;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      // Head coordinates: centred, unit = half the image, y down, un-tilted.
      double u = (x + 0.5 - half) / half, v = (y + 0.5 - half) / half;
      double hu = ct * u + st * v, hv = -st * u + ct * v;
      double rho = std::sqrt((hu / ax) * (hu / ax) + (hv / ay) * (hv / ay));
      float tex = texture.at<float>(y, x);
      double value;
      if (rho > 1.0) value = 0.0;                 // air
      else if (rho > 0.955) value = 0.78;         // scalp / fat, bright on T1
      else if (rho > 0.9) value = 0.12;           // bone
      else if (rho > kBrain) value = 0.08;        // CSF
      else {
        value = rho < 0.62 ? 0.6 : 0.46;          // white matter inside, grey matter cortex
        value += 0.12 * (tex - 0.5);
        value += 0.015 * std::sin(30.0 * std::atan2(hv, hu) + 40.0 * tex + 9.0 * rho);  // gyral folds
        if (std::abs(hu) < 0.016) value = 0.25;  // midline (falx)
        for (double side : {-1.0, 1.0}) {                               // lateral ventricles
          double du = (hu - side * vent_dx) / 0.05, dv = (hv + 0.05) / vent_len;
          if (du * du + dv * dv < 1) value = 0.12;
        }
      }
      bool in_tumour = false;
      if (has_tumour) {
        double du = u - t.u0, dv = (v - t.v0) / t.aspect;  // tumours are placed in image coordinates
        double r = std::sqrt(du * du + dv * dv), phi = std::atan2(dv, du);
        double boundary = t.r0;
        for (int k = 2; k < 6; ++k) boundary += t.r0 * t.amp[k] * std::cos(k * phi + t.phase[k]);
        double limit = spec.label == 1 ? 0.9 : kBrain;  // meningioma may indent the CSF
        if (r < boundary && rho < limit) {
          in_tumour = true;
          float tt = tumour_texture.at<float>(y, x);
          if (spec.label == 0) {
            value = tumour_level + 0.25 * (tt - 0.5);
            if (r < 0.4 * boundary) value = 0.3 + 0.1 * tt;  // necrotic core
          } else {
            value = tumour_level + 0.04 * (tt - 0.5);
          }
        } else if (spec.label == 0 && r < 1.35 * boundary && rho < kBrain) {
          value += 0.1 * (1.35 - r / boundary) / 0.35;  // infiltrative oedema, outside the mask
        }
      }
      value += 0.025 * noise.normal();
      p.image.at<float>(y, x) = static_cast<float>(std::min(1.0, std::max(0.0, value)));
      p.mask.at<uint8_t>(y, x) = in_tumour ? 1 : 0;
    }
  }
  return p;
}

namespace {

cv::Mat to_u8(const cv::Mat& f) {
  cv::Mat out;
  f.convertTo(out, CV_8U, 255.0);
  return out;
}

void write_or_fail(const std::string& path, const cv::Mat& image, const std::vector<int>& params = {}) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, image, params);
  } catch (const cv::Exception& e) {
    GLIA_FAIL(path << ": cannot write image: " << e.what());
  }
  GLIA_CHECK(ok, path << ": cannot write image");
}

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLIA_CHECK(!ec, dir.string() << ": cannot create directory (" << ec.message() << ")");
}

}  // namespace

void write_classification_phantoms(const std::string& root, int train_per_class, int test_per_class, int size,
                                   uint64_t seed) {
  GLIA_CHECK(train_per_class >= 0 && test_per_class >= 0, "write_classification_phantoms: negative count");
  static const char* prefix[kNumTumourClasses] = {"gl", "me", "no", "pi"};
  for (int split = 0; split < 2; ++split) {
    int count = split == 0 ? train_per_class : test_per_class;
    if (count == 0) continue;
    for (int c = 0; c < kNumTumourClasses; ++c) {
      fs::path dir = fs::path(root) / (split == 0 ? "Training" : "Testing") / tumour_class_names()[c];
      make_dirs(dir);
      for (int i = 0; i < count; ++i) {
        // Testing phantoms use other anatomy ids, so the splits share no image.
        uint64_t id = static_cast<uint64_t>(split) * 1000000u + static_cast<uint64_t>(i);
        Phantom p = make_phantom({c, size, seed, id, id, 1.0f});
        std::vector<uint8_t> png;
        GLIA_CHECK(cv::imencode(".png", to_u8(p.image), png), "cannot encode a phantom as PNG");
        std::string name = std::string(split == 0 ? "Tr-" : "Te-") + prefix[c] + "_" + std::to_string(i) + ".jpg";
        std::string path = (dir / name).string();
        FILE* f = std::fopen(path.c_str(), "wb");
        GLIA_CHECK(f != nullptr, path << ": cannot open for writing");
        size_t written = std::fwrite(png.data(), 1, png.size(), f);
        bool closed = std::fclose(f) == 0;
        GLIA_CHECK(written == png.size() && closed, path << ": write failed");
      }
    }
  }
}

void write_segmentation_phantoms(const std::string& root, int patients, int slices, int size, uint64_t seed,
                                 bool deflate, SegmentationPhantomLook look) {
  GLIA_CHECK(patients > 0 && slices > 0, "write_segmentation_phantoms: " << patients << " patients x " << slices
                                                                         << " slices must be positive");
  const std::vector<int> tiff_params = {cv::IMWRITE_TIFF_COMPRESSION, deflate ? 8 : 1};  // 8 = Adobe deflate
  for (int pt = 0; pt < patients; ++pt) {
    std::ostringstream id;
    id << "TCGA_PH_" << std::setw(4) << std::setfill('0') << pt << "_20000101";
    fs::path dir = fs::path(root) / id.str();
    make_dirs(dir);
    const double mid = (slices + 1) / 2.0, reach = slices / 3.0;
    for (int s = 1; s <= slices; ++s) {
      double d = std::abs(s - mid) / reach;
      float scale = d < 1 ? static_cast<float>(std::sqrt(1 - d * d)) : 0.0f;
      const bool lgg = look == SegmentationPhantomLook::lgg;
      static const int kTumourLabels[3] = {0, 1, 3};  // glioma, meningioma, pituitary
      const int label = lgg ? 0 : kTumourLabels[pt % 3];
      Phantom p = make_phantom({label, size, seed, static_cast<uint64_t>(pt), static_cast<uint64_t>(pt) * 10000u + s, scale});
      cv::Mat rgb, bgr;
      if (lgg) {
        // Three channels like pre-contrast / FLAIR / post-contrast: the tumour stands out
        // most in FLAIR. Stored BGR by OpenCV, read back RGB by decode_image.
        cv::Mat mask_f;
        p.mask.convertTo(mask_f, CV_32F);
        cv::Mat flair = cv::min(p.image + 0.15 * mask_f, 1.0), post = p.image * 0.95;
        cv::merge(std::vector<cv::Mat>{p.image, flair, post}, rgb);
      } else {
        cv::merge(std::vector<cv::Mat>{p.image, p.image, p.image}, rgb);
      }
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      std::string stem = (dir / (id.str() + "_" + std::to_string(s))).string();
      write_or_fail(stem + ".tif", to_u8(bgr), tiff_params);
      write_or_fail(stem + "_mask.tif", p.mask * 255, tiff_params);
    }
  }
}

}  // namespace glia::io
