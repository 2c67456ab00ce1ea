// The LGG "kaggle_3m" segmentation layout: <root>/TCGA_<inst>_<id>_<date>/ holding
// <folder>_<slice>.tif (the image) and <folder>_<slice>_mask.tif (the mask, any
// non-zero pixel = tumour). The patient id is the folder name. Files are read by
// content, so uncompressed and deflate TIFFs both load.
//
// Pairs are validated at open time: every image needs its mask and every mask its
// image, both must decode and have the same size; otherwise bad input (glia::Error
// naming the file, or with skip_bad a warning and a count). Non-.tif files (data.csv,
// README.md) at the root or in a patient folder are ignored; a patient folder with no
// pairs is bad input. Splits are by patient, never by slice: slices of one patient are
// near-duplicates and would inflate a validation score.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glia::io {

struct SegmentationSample {
  std::string image_path, mask_path;
  std::string patient;  // folder name, e.g. TCGA_CS_4941_19960909
  int slice = 0;
  int height = 0, width = 0;
  bool has_tumour = false;  // the mask has at least one non-zero pixel
};

struct SegmentationDatasetOptions {
  bool skip_bad = false;
  bool quiet = false;
  int threads = 2;  // decoding every pair to validate it is the slow part of opening
};

struct SegmentationDataset {
  std::string root;
  std::vector<SegmentationSample> samples;  // sorted by patient, then slice number
  std::vector<std::string> patients;        // sorted
  std::vector<std::string> skipped;

  size_t with_tumour() const;
  std::string summary() const;
};

SegmentationDataset open_segmentation_dataset(const std::string& root,
                                              const SegmentationDatasetOptions& options = {});

struct PatientSplit {
  std::vector<SegmentationSample> train, val, test;
  std::vector<std::string> train_patients, val_patients, test_patients;
};
// Deterministic split of the patients from `seed`: round(val_fraction * P) patients to
// val, round(test_fraction * P) to test (at least one each when the fraction is > 0 and
// there are enough patients), the rest to train.
PatientSplit split_by_patient(const SegmentationDataset& dataset, double val_fraction,
                              double test_fraction, uint64_t seed);

// Epoch index list for sampling positives more often: each slice with tumour appears
// `positive_repeat` times (1 = plain), each other slice once. The loader shuffles it.
std::vector<size_t> oversample_positive(const std::vector<SegmentationSample>& samples,
                                        int positive_repeat);

}  // namespace glia::io
