// The Nickparvar "Brain Tumor MRI Dataset" layout: <root>/{Training,Testing}/<class>/*.
//
// Classes and labels, in this fixed order: 0 glioma, 1 meningioma, 2 notumor,
// 3 pituitary (alphabetical, as the dataset's folders and torchvision's ImageFolder
// give them). Folder names must match exactly.
//   - An unknown folder inside a split (e.g. "no_tumor") is an error naming it, because
//     ignoring it would silently train on fewer classes; with skip_bad it is skipped
//     with a warning and counted. Hidden entries (".*") are ignored; plain files directly
//     in a split folder (README etc.) are ignored.
//   - A split that lacks one of the four class folders, or has an empty one, is bad
//     input likewise.
//   - Files are identified as images by content (PNG/JPEG/TIFF/BMP signature): a .jpg
//     that is a PNG is fine, a text file named .jpg is bad input. Full decoding happens
//     in the loader's workers (or at open time with verify_decode).
// Byte-identical duplicates (content hash, confirmed byte for byte) are reported inside
// each split and between Training and Testing; drop_duplicates keeps the first copy of
// a split (in path order) and removes Training copies of Testing images, so a test
// score is not inflated by leakage.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/image.h"

namespace glia::io {

constexpr int kNumTumourClasses = 4;
const std::array<const char*, kNumTumourClasses>& tumour_class_names();
// Label of a class folder name, or -1 when unknown.
int tumour_class_label(const std::string& name);

struct ClassificationSample {
  std::string path;
  int label = -1;
  uint64_t hash = 0;  // FNV-1a 64 of the file's bytes
  size_t bytes = 0;
  ImageFormat format = ImageFormat::unknown;
};

struct ClassificationSplit {
  std::string name;  // "Training" or "Testing"
  bool present = false;
  std::vector<ClassificationSample> samples;  // sorted by path
  std::array<size_t, kNumTumourClasses> class_counts{};
  // Files of each class folder left out as bad input (skip_bad; verify_decode included).
  std::array<size_t, kNumTumourClasses> skipped_per_class{};
  // Groups of byte-identical files inside this split (paths, sorted), before dropping.
  std::vector<std::vector<std::string>> duplicate_groups;
  size_t duplicates_dropped = 0;
};

struct ClassificationDatasetOptions {
  bool skip_bad = false;         // warn and count instead of throwing on bad input
  bool drop_duplicates = false;  // see the header comment
  bool quiet = false;            // no warnings on stderr (they are still counted)
  // Decode every file while opening (on `threads` threads), so a corrupt image is
  // reported now rather than when the loader reaches it mid-epoch.
  bool verify_decode = false;
  int threads = 2;
};

struct ClassificationDataset {
  std::string root;
  ClassificationSplit training, testing;
  // (Training path, Testing path) pairs with identical bytes, before dropping.
  std::vector<std::pair<std::string, std::string>> cross_split_duplicates;
  std::vector<std::string> skipped;  // one message per bad input skipped (skip_bad)

  // Human-readable counts, duplicates and skips.
  std::string summary() const;
};

// Scans root (which must hold Training/ and/or Testing/). Throws glia::Error naming the
// path and the problem.
ClassificationDataset open_classification_dataset(const std::string& root,
                                                  const ClassificationDatasetOptions& options = {});

uint64_t content_hash(const uint8_t* data, size_t size);

struct TrainValSplit {
  std::vector<ClassificationSample> train, val;
};
// Deterministic split from `seed`, stratified by class: each class gives
// round(val_fraction * count) images to val (whole duplicate groups stay on one side,
// so a copy of a training image never validates). Both outputs keep path order.
TrainValSplit stratified_split(const std::vector<ClassificationSample>& samples,
                               double val_fraction, uint64_t seed);

}  // namespace glia::io
