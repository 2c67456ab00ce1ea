// predict: the integrated model. Each image is classified; where the class is a tumour
// and a segmenter is given, the U-Net outlines it. Prints the class probabilities and the
// tumour area, writes <out>/<name>_overlay.png (red outline on the image), <name>_mask.png
// and predictions.csv.
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "apps/app.h"
#include "io/classification_dataset.h"
#include "io/files.h"
#include "io/image.h"
#include "io/plots.h"
#include "tensor/autograd.h"
#include "tensor/json.h"
#include "train/classification_trainer.h"
#include "train/finite_output.h"
#include "train/segmentation_trainer.h"

namespace glia::app {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  GLIA_USAGE_CHECK(!inputs.empty(), "predict: no input image or folder given");
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    require_path(in, "input");
    if (!fs::is_directory(in)) {
      files.push_back(in);
      continue;
    }
    for (const auto& p : io::list_directory(in, "input folder")) {
      if (io::is_hidden(p) || !fs::is_regular_file(p)) continue;
      const auto bytes = io::read_file_bytes(p.string());
      if (io::detect_format(bytes.data(), std::min<size_t>(bytes.size(), 16)) != io::ImageFormat::unknown)
        files.push_back(p.string());
    }
  }
  GLIA_USAGE_CHECK(!files.empty(), "predict: the inputs hold no image");
  return files;
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
  const std::vector<std::string> files = expand_inputs(o.inputs);
  ModelSpec cls_spec, seg_spec;
  auto classifier = load_model(o.classifier, "classifier", device, &cls_spec);
  std::shared_ptr<nn::Module> segmenter;
  if (!o.segmenter.empty()) segmenter = load_model(o.segmenter, "unet", device, &seg_spec);
  if (o.out.empty()) o.out = default_run_dir("predict");
  prepare_run_dir(o.out, o.overwrite, false, "predict",
                  "{\"classifier\": " + Json(o.classifier).dump() + ", \"segmenter\": " + Json(o.segmenter).dump() + "}");

  NoGradGuard no_grad;
  const auto& names = io::tumour_class_names();
  std::string csv = "path,class";
  for (const char* n : names) csv += std::string(",p_") + n;
  csv += ",tumour_pixels,tumour_fraction\n";
  std::set<std::string> used_stems;
  for (const auto& path : files) {
    const auto bytes = io::read_file_bytes(path);
    const cv::Mat image = io::decode_image(bytes.data(), bytes.size(), path, 3);
    const int h = image.rows, w = image.cols;
    const std::vector<float> x = model_input(image, cls_spec.image_size);
    const Tensor cls_input = from_vector(x, {1, 3, cls_spec.image_size, cls_spec.image_size}, device);
    const Tensor logits = (*classifier)(cls_input);
    check_finite_output(*classifier, cls_input, logits, path + ": classifier");
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
    for (int i = 2; used_stems.count(stem); ++i) stem = fs::path(path).stem().string() + "-" + std::to_string(i);
    used_stems.insert(stem);
    std::vector<float> chw(static_cast<size_t>(3) * h * w);
    io::to_planar(image, io::Normalization{}, chw.data());
    io::write_png(o.out + "/" + stem + "_overlay.png", io::overlay_image(chw.data(), 3, h, w, mask.data()));
    io::write_mask_png(o.out + "/" + stem + "_mask.png", mask.data(), h, w);

    std::ostringstream line, row;
    line << std::fixed << std::setprecision(3) << path << ": " << names[static_cast<size_t>(label)] << " (";
    row << std::setprecision(6) << '"' << path << "\"," << names[static_cast<size_t>(label)];
    for (size_t c = 0; c < probs.size(); ++c) {
      line << (c ? ", " : "") << names[c] << " " << probs[c];
      row << ',' << probs[c];
    }
    line << ")";
    if (tumour && segmenter) line << "; tumour area " << area << " px (" << std::setprecision(2) << 100 * fraction
                                  << " % of the image)";
    else if (tumour) line << "; no segmenter given, area not measured";
    row << ',' << area << ',' << fraction << '\n';
    csv += row.str();
    if (!o.quiet) std::cout << line.str() << std::endl;
  }
  write_text_file(o.out + "/predictions.csv", csv);
  if (!o.quiet) std::cout << "predict: " << files.size() << " images; overlays, masks and predictions.csv in " << o.out
                          << std::endl;
  return 0;
}

}  // namespace glia::app
