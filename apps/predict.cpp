// predict: the integrated model. Each image is classified; where the class is a tumour
// and a segmenter is given, the U-Net outlines it. Prints the class probabilities and the
// tumour area, writes <out>/<name>_overlay.png (red outline on the image), <name>_mask.png
// and predictions.csv; with --explain also <name>_gradcam.png, a Grad-CAM heat map of the
// predicted class over the image (nets/gradcam.h).
//
// Bad inputs: every input is decoded before anything is written. Without --skip-bad any
// unreadable one stops the command with an error naming each; with it they are left out,
// warned about and listed in predictions.csv (column "skipped" holds the reason).
// predictions.csv is written row by row (flushed), so a failure part-way keeps the rows
// of the images already predicted.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "apps/app.h"
#include "io/classification_dataset.h"
#include "io/files.h"
#include "io/heatmap.h"
#include "io/image.h"
#include "apps/plots.h"
#include "tensor/autograd.h"
#include "nets/gradcam.h"
#include "tensor/json.h"
#include "train/classification_trainer.h"
#include "train/finite_output.h"
#include "train/segmentation_trainer.h"

namespace glia::app {
namespace fs = std::filesystem;
namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".bmp";
}

struct Inputs {
  std::vector<std::string> files;
  std::vector<std::string> ignored;  // folder entries that are images neither by name nor by content
};

// Every file named, and every file in a named folder that is an image by extension or
// by content (so a .jpg that does not decode is a bad input, not silently passed over).
Inputs expand_inputs(const std::vector<std::string>& inputs) {
  GLIA_USAGE_CHECK(!inputs.empty(), "predict: no input image or folder given");
  Inputs out;
  for (const auto& in : inputs) {
    require_path(in, "input");
    if (!fs::is_directory(in)) {
      out.files.push_back(in);
      continue;
    }
    for (const auto& p : io::list_directory(in, "input folder")) {
      if (io::is_hidden(p) || fs::is_directory(p)) continue;
      if (has_image_extension(p)) {
        out.files.push_back(p.string());
        continue;
      }
      std::vector<uint8_t> bytes;
      try {
        bytes = io::read_file_bytes(p.string());
      } catch (const Error&) {
        out.ignored.push_back(p.string());
        continue;
      }
      if (io::detect_format(bytes.data(), std::min<size_t>(bytes.size(), 16)) != io::ImageFormat::unknown)
        out.files.push_back(p.string());
      else
        out.ignored.push_back(p.string());
    }
  }
  GLIA_USAGE_CHECK(!out.files.empty(), "predict: the inputs hold no image"
                                           << (out.ignored.empty() ? "" : " (only files that are not images, e.g. ")
                                           << (out.ignored.empty() ? "" : out.ignored[0] + ")"));
  return out;
}

cv::Mat read_image(const std::string& path) {
  const auto bytes = io::read_file_bytes(path);
  return io::decode_image(bytes.data(), bytes.size(), path, 3);
}

// Why `path` cannot be predicted; empty when it decodes.
std::string problem_of(const std::string& path) {
  try {
    read_image(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string csv_field(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

// CHW floats of `image` (HxWx3 float) resized to size x size.
std::vector<float> model_input(const cv::Mat& image, int size) {
  const cv::Mat resized = io::resize_image(image, size, size, io::Interpolation::area);
  std::vector<float> chw(static_cast<size_t>(3) * size * size);
  io::to_planar(resized, io::Normalization{}, chw.data());
  return chw;
}

}  // namespace

int predict(PredictOptions o) {
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  const Inputs inputs = expand_inputs(o.inputs);
  const std::vector<std::string>& files = inputs.files;
  InputPaths reads = {{"--classifier", o.classifier}, {"--segmenter", o.segmenter}};
  for (const auto& in : o.inputs) reads.emplace_back("input", in);
  if (!o.out.empty()) check_run_dir(o.out, o.overwrite, false, "predict", reads);
  ModelSpec cls_spec, seg_spec;
  auto classifier = load_model(o.classifier, "classifier", device, &cls_spec);
  std::shared_ptr<nn::Module> segmenter;
  if (!o.segmenter.empty()) segmenter = load_model(o.segmenter, "unet", device, &seg_spec);

  // Every input decodes, or the command says which do not, before anything is written.
  std::vector<std::string> problems(files.size());
  size_t bad = 0;
  std::string listing;
  for (size_t i = 0; i < files.size(); ++i) {
    problems[i] = problem_of(files[i]);
    if (problems[i].empty()) continue;
    ++bad;
    listing += "\n  " + problems[i];
  }
  GLIA_CHECK(bad < files.size(), "predict: none of the " << files.size() << " inputs is a readable image:" << listing);
  GLIA_CHECK(bad == 0 || o.skip_bad, "predict: " << bad << " of the " << files.size()
                                                 << " inputs are not readable images, so nothing was written (pass "
                                                    "--skip-bad to predict the others):"
                                                 << listing);

  if (o.out.empty()) o.out = default_run_dir("predict");
  prepare_run_dir(o.out, o.overwrite, false, "predict",
                  "{\"classifier\": " + Json(o.classifier).dump() + ", \"segmenter\": " + Json(o.segmenter).dump() +
                      ", \"skip_bad\": " + Json(o.skip_bad).dump() + "}",
                  reads);

  NoGradGuard no_grad;
  const auto& names = io::tumour_class_names();
  const std::string csv_path = o.out + "/predictions.csv";
  std::ofstream csv(csv_path, std::ios::binary | std::ios::trunc);
  GLIA_CHECK(csv.good(), "cannot open " << csv_path << " for writing");
  csv << "path,class";
  for (const char* n : names) csv << ",p_" << n;
  csv << ",tumour_pixels,tumour_fraction,skipped\n";
  auto write_row = [&](const std::string& row) {
    csv << row << std::flush;
    GLIA_CHECK(csv.good(), "cannot write " << csv_path);
  };
  // Empty class, probabilities, pixels and fraction, then the comma before "skipped".
  const std::string empty_columns(names.size() + 4, ',');
  size_t predicted = 0, skipped = 0;
  std::set<std::string> used_stems;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    std::string problem = problems[i];
    cv::Mat image;
    if (problem.empty()) {
      try {
        image = read_image(path);  // decoded above; a file changed since is caught here too
      } catch (const Error& e) {
        problem = e.what();
        GLIA_CHECK(o.skip_bad, "predict: " << problem << "; predictions.csv in " << o.out << " keeps the "
                                           << predicted << " predictions made before it");
      }
    }
    if (!problem.empty()) {
      if (!o.quiet) std::cerr << "glia: warning: skipped: " << problem << std::endl;
      write_row(csv_field(path) + empty_columns + csv_field(problem) + "\n");
      ++skipped;
      continue;
    }
    try {
      const int h = image.rows, w = image.cols;
      const Tensor input =
          from_vector(model_input(image, cls_spec.image_size), {1, 3, cls_spec.image_size, cls_spec.image_size}, device);
      const Tensor logits = (*classifier)(input);
      check_finite_output(*classifier, input, logits, path + ": classifier");
      const std::vector<float> probs = class_probabilities(logits);
      const int label = static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
      const bool tumour = std::string(names[static_cast<size_t>(label)]) != "notumor";

      std::vector<uint8_t> mask(static_cast<size_t>(h) * w, 0);
      if (tumour && segmenter) {
        const int s = seg_spec.image_size;
        const Tensor seg_input = from_vector(model_input(image, s), {1, 3, s, s}, device);
        const Tensor seg_logits = (*segmenter)(seg_input);
        check_finite_output(*segmenter, seg_input, seg_logits, path + ": segmenter");
        const std::vector<uint8_t> small = threshold_masks(seg_logits);
        cv::Mat m(s, s, CV_8UC1, const_cast<uint8_t*>(small.data())), big;
        cv::resize(m, big, cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
        std::copy(big.data, big.data + mask.size(), mask.begin());
      }
      const int64_t area = std::count(mask.begin(), mask.end(), uint8_t{1});
      const double fraction = static_cast<double>(area) / static_cast<double>(mask.size());

      // Unique output names even when two inputs share a file name.
      std::string stem = fs::path(path).stem().string();
      for (int k = 2; used_stems.count(stem); ++k) stem = fs::path(path).stem().string() + "-" + std::to_string(k);
      used_stems.insert(stem);
      std::vector<float> chw(static_cast<size_t>(3) * h * w);
      io::to_planar(image, io::Normalization{}, chw.data());
      app::write_png(o.out + "/" + stem + "_overlay.png", app::overlay_image(chw.data(), 3, h, w, mask.data()));
      app::write_mask_png(o.out + "/" + stem + "_mask.png", mask.data(), h, w);
      if (o.explain) {
        auto* net = dynamic_cast<nets::EfficientNet*>(classifier.get());
        GLIA_CHECK(net, "--explain: Grad-CAM needs an EfficientNet classifier, " << o.classifier << " holds another model");
        const nets::GradCam cam = nets::grad_cam(*net, input, label, h, w);
        app::write_png(o.out + "/" + stem + "_gradcam.png", io::heatmap_overlay_image(chw.data(), 3, h, w, cam.map.data()));
      }

      std::ostringstream line, row;
      line << std::fixed << std::setprecision(3) << path << ": " << names[static_cast<size_t>(label)] << " (";
      row << std::setprecision(6) << csv_field(path) << ',' << names[static_cast<size_t>(label)];
      for (size_t c = 0; c < probs.size(); ++c) {
        line << (c ? ", " : "") << names[c] << " " << probs[c];
        row << ',' << probs[c];
      }
      line << ")";
      if (tumour && segmenter) line << "; tumour area " << area << " px (" << std::setprecision(2) << 100 * fraction
                                    << " % of the image)";
      else if (tumour) line << "; no segmenter given, area not measured";
      row << ',' << area << ',' << fraction << ",\n";
      write_row(row.str());
      ++predicted;
      if (!o.quiet) std::cout << line.str() << std::endl;
    } catch (const Error& e) {
      GLIA_FAIL(e.what() << "\n(predict stopped at " << path << "; predictions.csv in " << o.out << " keeps the "
                         << predicted << " predictions made before it)");
    }
  }
  if (!o.quiet) {
    std::cout << "predict: " << predicted << " images predicted";
    if (skipped) std::cout << ", " << skipped << " skipped as unreadable (listed in predictions.csv)";
    std::cout << "; overlays, masks" << (o.explain ? ", Grad-CAM maps" : "") << " and predictions.csv in " << o.out
              << std::endl;
    if (!inputs.ignored.empty())
      std::cout << "predict: ignored " << inputs.ignored.size()
                << " files in the input folders that are images neither by extension nor by content (e.g. "
                << inputs.ignored[0] << ")" << std::endl;
  }
  return 0;
}

}  // namespace glia::app
