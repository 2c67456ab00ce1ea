#include "io/segmentation_dataset.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <sstream>
#include <system_error>
#include <thread>

#include "io/bad_input.h"
#include "io/files.h"
#include "io/image.h"
#include "io/random.h"
#include "kernels/error.h"

namespace glia::io {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "<folder>_<slice>" -> slice number, or -1 when the name does not have that shape.
int slice_number(const std::string& stem, const std::string& folder) {
  if (stem.size() <= folder.size() + 1 || stem.compare(0, folder.size(), folder) != 0 ||
      stem[folder.size()] != '_')
    return -1;
  std::string digits = stem.substr(folder.size() + 1);
  if (digits.empty() || digits.size() > 6 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoi(digits);
}

// Decodes both files of a pair, checks sizes, fills height/width/has_tumour. Throws.
void validate_pair(SegmentationSample& s) {
  std::vector<uint8_t> image_bytes = read_file_bytes(s.image_path);
  DecodedInfo image = probe_image(image_bytes.data(), image_bytes.size(), s.image_path);
  std::vector<uint8_t> mask_bytes = read_file_bytes(s.mask_path);
  cv::Mat mask = decode_mask(mask_bytes.data(), mask_bytes.size(), s.mask_path);
  GLIA_CHECK(mask.rows == image.height && mask.cols == image.width,
             s.mask_path << ": mask is " << mask.cols << "x" << mask.rows << " but its image "
                         << s.image_path << " is " << image.width << "x" << image.height << " (width x height)");
  s.height = image.height;
  s.width = image.width;
  s.has_tumour = cv::countNonZero(mask) > 0;
}

}  // namespace

SegmentationDataset open_segmentation_dataset(const std::string& root,
                                              const SegmentationDatasetOptions& options) {
  SegmentationDataset ds;
  ds.root = root;
  BadInputLog log(options.skip_bad, options.quiet);
  std::vector<SegmentationSample> candidates;
  std::error_code ec;
  for (const fs::path& folder : list_directory(root, "segmentation dataset root")) {
    if (is_hidden(folder) || !fs::is_directory(folder, ec)) continue;  // data.csv, README.md
    const std::string patient = folder.filename().string();
    std::vector<fs::path> files;
    try {
      files = list_directory(folder, "patient folder");
    } catch (const Error& e) {
      log.bad(e.what());
      continue;
    }
    std::map<int, std::string> images, masks;
    for (const fs::path& file : files) {
      std::string name = file.filename().string();
      if (is_hidden(file) || !ends_with(name, ".tif")) continue;
      std::string stem = name.substr(0, name.size() - 4);
      bool is_mask = ends_with(stem, "_mask");
      if (is_mask) stem.resize(stem.size() - 5);
      int slice = slice_number(stem, patient);
      if (slice < 0) {
        log.bad(file.string() + ": name does not follow <folder>_<slice>.tif / <folder>_<slice>_mask.tif");
        continue;
      }
      (is_mask ? masks : images)[slice] = file.string();
    }
    size_t pairs = 0;
    for (const auto& [slice, image_path] : images) {
      auto mask = masks.find(slice);
      if (mask == masks.end()) {
        log.bad(image_path + ": image without mask (expected " +
                image_path.substr(0, image_path.size() - 4) + "_mask.tif)");
        continue;
      }
      SegmentationSample s;
      s.image_path = image_path;
      s.mask_path = mask->second;
      s.patient = patient;
      s.slice = slice;
      candidates.push_back(s);
      ++pairs;
    }
    for (const auto& [slice, mask_path] : masks)
      if (!images.count(slice)) log.bad(mask_path + ": mask without image");
    if (pairs == 0 && images.empty() && masks.empty())
      log.bad(folder.string() + ": patient folder holds no <folder>_<slice>.tif images (is " + root +
              " the folder that holds the TCGA_* folders, e.g. .../kaggle_3m?)");
  }

  // Validate every pair (decode both) on a few threads; errors are kept per pair so the
  // report is in a fixed order whatever the thread count.
  std::vector<std::string> errors(candidates.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < candidates.size(); i = next++) {
      try {
        validate_pair(candidates[i]);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, options.threads); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!errors[i].empty()) {
      log.bad(errors[i]);
      continue;
    }
    ds.samples.push_back(candidates[i]);
  }
  GLIA_CHECK(!ds.samples.empty() || log.count() > 0,
             "segmentation dataset root " << root
                 << " holds no image/mask pairs (expected <root>/TCGA_*/<folder>_<slice>.tif with "
                    "<folder>_<slice>_mask.tif)");
  std::sort(ds.samples.begin(), ds.samples.end(), [](const SegmentationSample& a, const SegmentationSample& b) {
    return a.patient != b.patient ? a.patient < b.patient : a.slice < b.slice;
  });
  for (const auto& s : ds.samples)
    if (ds.patients.empty() || ds.patients.back() != s.patient) ds.patients.push_back(s.patient);
  ds.skipped = log.messages();
  return ds;
}

size_t SegmentationDataset::with_tumour() const {
  return static_cast<size_t>(
      std::count_if(samples.begin(), samples.end(), [](const SegmentationSample& s) { return s.has_tumour; }));
}

std::string SegmentationDataset::summary() const {
  std::ostringstream s;
  s << "segmentation dataset " << root << ": " << patients.size() << " patients, " << samples.size()
    << " image/mask pairs, " << with_tumour() << " with tumour, " << samples.size() - with_tumour()
    << " without";
  if (!skipped.empty()) s << "; bad inputs skipped: " << skipped.size();
  s << "\n";
  return s.str();
}

PatientSplit split_by_patient(const SegmentationDataset& dataset, double val_fraction, double test_fraction,
                              uint64_t seed) {
  GLIA_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
             "split_by_patient: fractions val " << val_fraction << " and test " << test_fraction
                                                << " must be >= 0 and sum to less than 1");
  std::vector<std::string> patients = dataset.patients;  // sorted: the shuffle's input order is fixed
  const size_t n = patients.size();
  auto count = [n](double fraction) {
    size_t k = static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
    if (fraction > 0 && k == 0 && n >= 3) k = 1;
    return k;
  };
  size_t n_val = count(val_fraction), n_test = count(test_fraction);
  GLIA_CHECK(n_val + n_test < n || n == 0,
             "split_by_patient: " << n << " patients are too few for val " << n_val << " + test "
                                  << n_test << " and a non-empty train split");
  Rng rng(seed, RngDomain::split, 1, 0);
  shuffle_in_place(patients, rng);
  PatientSplit out;
  std::map<std::string, int> side;  // 0 train, 1 val, 2 test
  for (size_t i = 0; i < n; ++i) {
    int which = i < n_val ? 1 : (i < n_val + n_test ? 2 : 0);
    side[patients[i]] = which;
    (which == 1 ? out.val_patients : which == 2 ? out.test_patients : out.train_patients).push_back(patients[i]);
  }
  for (auto* list : {&out.train_patients, &out.val_patients, &out.test_patients}) std::sort(list->begin(), list->end());
  for (const auto& s : dataset.samples) {
    int which = side.at(s.patient);
    (which == 1 ? out.val : which == 2 ? out.test : out.train).push_back(s);
  }
  return out;
}

std::vector<size_t> oversample_positive(const std::vector<SegmentationSample>& samples, int positive_repeat) {
  GLIA_CHECK(positive_repeat >= 1, "oversample_positive: repeat " << positive_repeat << " must be >= 1");
  std::vector<size_t> order;
  for (size_t i = 0; i < samples.size(); ++i)
    for (int k = 0; k < (samples[i].has_tumour ? positive_repeat : 1); ++k) order.push_back(i);
  return order;
}

}  // namespace glia::io
