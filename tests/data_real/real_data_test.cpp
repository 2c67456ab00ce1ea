// The real datasets in ../shared/data (or $GLIA_DATA): their counts must equal those in
// that folder's README, and every file must decode. Skipped, with the path, when absent.
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "io/classification_dataset.h"
#include "io/image.h"
#include "io/segmentation_dataset.h"

namespace glia::io {
namespace {

namespace fs = std::filesystem;

// $GLIA_DATA, else ../shared/data beside the source tree ($GLIA_SOURCE_DIR, set by ctest).
std::string data_root() {
  if (const char* env = std::getenv("GLIA_DATA")) return env;
  const char* src = std::getenv("GLIA_SOURCE_DIR");
  return (fs::path(src ? src : ".") / ".." / "shared" / "data").lexically_normal().string();
}

std::string require(const std::string& sub) {
  std::string path = (fs::path(data_root()) / sub).string();
  if (!fs::is_directory(path)) return "";
  return path;
}

#define SKIP_IF_ABSENT(found, sub)                                                                     \
  if ((found).empty())                                                                                 \
  GTEST_SKIP() << "real data not found at " << (fs::path(data_root()) / (sub)).string()                \
               << "; set GLIA_DATA to the folder holding brain-tumor-mri/ and lgg-mri-segmentation/"

TEST(RealData, ClassificationCountsMatchReadme) {
  std::string root = require("brain-tumor-mri");
  SKIP_IF_ABSENT(root, "brain-tumor-mri");
  ClassificationDataset ds = open_classification_dataset(root);
  std::cout << ds.summary();
  ASSERT_TRUE(ds.training.present);
  EXPECT_EQ(ds.training.samples.size(), 2785u);
  // The README's per-class figures (660, 669, 797, 728) sum to 2854, not to its own
  // total of 2785; the folders hold 660, 668, 732 and 725 files (counted with ls),
  // which do sum to 2785, so those are what is checked.
  EXPECT_EQ(ds.training.class_counts[0], 660u);  // glioma
  EXPECT_EQ(ds.training.class_counts[1], 668u);  // meningioma
  EXPECT_EQ(ds.training.class_counts[2], 732u);  // notumor
  EXPECT_EQ(ds.training.class_counts[3], 725u);  // pituitary
  EXPECT_TRUE(ds.skipped.empty());
  // The README: byte-identical duplicates inside the split, mostly notumor.
  ASSERT_FALSE(ds.training.duplicate_groups.empty());
  size_t notumor_groups = 0;
  for (const auto& g : ds.training.duplicate_groups) notumor_groups += g[0].find("/notumor/") != std::string::npos;
  EXPECT_GT(2 * notumor_groups, ds.training.duplicate_groups.size());
  // Named .jpg, really PNG.
  int png_named_jpg = 0;
  for (const auto& s : ds.training.samples) {
    if (s.path.find("notumor/Tr-no_1012.jpg") != std::string::npos ||
        s.path.find("notumor/Tr-no_1020.jpg") != std::string::npos) {
      EXPECT_EQ(s.format, ImageFormat::png) << s.path;
      ++png_named_jpg;
    }
  }
  EXPECT_EQ(png_named_jpg, 2);
}

// What train-cls and eval-cls drop by default and report in metrics.json ("inputs"):
// 37 files of Training are byte-identical copies of another (counted independently with
// `md5sum | sort | uniq -d -c`), so 2748 of the 2785 remain.
TEST(RealData, DuplicatesDroppedFromTraining) {
  std::string root = require("brain-tumor-mri");
  SKIP_IF_ABSENT(root, "brain-tumor-mri");
  ClassificationDatasetOptions o;
  o.drop_duplicates = true;
  ClassificationDataset ds = open_classification_dataset(root, o);
  EXPECT_EQ(ds.training.duplicates_dropped, 37u);
  EXPECT_EQ(ds.training.samples.size(), 2748u);
  size_t copies = 0;
  for (const auto& g : ds.training.duplicate_groups) copies += g.size() - 1;
  EXPECT_EQ(copies, 37u);
}

TEST(RealData, EveryClassificationImageDecodes) {
  std::string root = require("brain-tumor-mri");
  SKIP_IF_ABSENT(root, "brain-tumor-mri");
  ClassificationDataset ds = open_classification_dataset(root);
  const auto& samples = ds.training.samples;
  std::vector<DecodedInfo> infos(samples.size());
  std::vector<std::string> errors;
  std::mutex m;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < samples.size(); i = next++) {
      try {
        auto bytes = read_file_bytes(samples[i].path);
        cv::Mat img = decode_image(bytes.data(), bytes.size(), samples[i].path, 3, &infos[i]);
        if (img.channels() != 3 || img.empty()) throw std::runtime_error(samples[i].path + ": bad conversion");
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(m);
        errors.push_back(e.what());
      }
    }
  };
  std::thread other(work);
  work();
  other.join();
  EXPECT_TRUE(errors.empty()) << errors.size() << " failures, first: " << errors[0];
  int gray = 0, rgba = 0, min_side = 1 << 30, max_side = 0, non_square = 0;
  for (const auto& info : infos) {
    gray += info.channels == 1;
    rgba += info.channels == 4;
    min_side = std::min({min_side, info.width, info.height});
    max_side = std::max({max_side, info.width, info.height});
    non_square += info.width != info.height;
  }
  std::cout << "gray " << gray << ", rgba " << rgba << ", sides " << min_side << ".." << max_side << ", non-square "
            << non_square << "\n";
  // The README's quirks: grayscale and RGBA files, sizes from about 150 to 1920, not all square.
  EXPECT_GT(gray, 0);
  EXPECT_GE(rgba, 1);
  EXPECT_LT(min_side, 256);
  EXPECT_GT(max_side, 1024);
  EXPECT_GT(non_square, 0);
}

TEST(RealData, SegmentationCountsMatchReadmeAndEveryPairDecodes) {
  std::string root = require("lgg-mri-segmentation/kaggle_3m");
  SKIP_IF_ABSENT(root, "lgg-mri-segmentation/kaggle_3m");
  // Opening decodes every image and mask and checks that their sizes agree.
  SegmentationDataset ds = open_segmentation_dataset(root);
  std::cout << ds.summary();
  EXPECT_TRUE(ds.skipped.empty());
  EXPECT_EQ(ds.patients.size(), 40u);
  EXPECT_EQ(ds.samples.size(), 1389u);
  EXPECT_EQ(ds.with_tumour(), 486u);
  for (const auto& s : ds.samples) {
    EXPECT_EQ(s.height, 256) << s.image_path;
    EXPECT_EQ(s.width, 256) << s.image_path;
  }
  PatientSplit split = split_by_patient(ds, 0.15, 0.15, 0);
  EXPECT_EQ(split.val_patients.size() + split.test_patients.size() + split.train_patients.size(), 40u);
}

// The patient split on the real data: its parts share no patient (judged from the files'
// folders, not from the loader's own patient field, and also by the TCGA case id without
// the scan date, so one person scanned twice could not straddle parts), together hold
// every slice exactly once, and each part's patient list is exactly its slices' folders.
TEST(RealData, PatientSplitPartsAreDisjointAndCoverEverySlice) {
  std::string root = require("lgg-mri-segmentation/kaggle_3m");
  SKIP_IF_ABSENT(root, "lgg-mri-segmentation/kaggle_3m");
  SegmentationDatasetOptions quiet;
  quiet.quiet = true;
  const SegmentationDataset ds = open_segmentation_dataset(root, quiet);
  ASSERT_EQ(ds.patients.size(), 40u);
  auto folder = [](const std::string& path) { return fs::path(path).parent_path().filename().string(); };
  auto case_id = [](const std::string& name) {  // TCGA_CS_4941_19960909 -> TCGA_CS_4941
    return name.substr(0, name.rfind('_'));
  };
  const struct {
    double val, test;
    uint64_t seed;
  } configs[] = {{0.15, 0.15, 0}, {0.15, 0.15, 1}, {0.2, 0.1, 42}, {0.1, 0.0, 7}};
  for (const auto& cfg : configs) {
    SCOPED_TRACE("val " + std::to_string(cfg.val) + " test " + std::to_string(cfg.test) + " seed " +
                 std::to_string(cfg.seed));
    const PatientSplit split = split_by_patient(ds, cfg.val, cfg.test, cfg.seed);
    const std::vector<SegmentationSample>* parts[] = {&split.train, &split.val, &split.test};
    const std::vector<std::string>* lists[] = {&split.train_patients, &split.val_patients, &split.test_patients};
    std::map<std::string, int> part_of_folder, part_of_case;
    std::set<std::string> files;
    size_t slices = 0;
    for (int k = 0; k < 3; ++k) {
      std::set<std::string> folders;
      for (const auto& s : *parts[k]) {
        const std::string f = folder(s.image_path);
        EXPECT_EQ(folder(s.mask_path), f) << s.mask_path;
        folders.insert(f);
        const auto a = part_of_folder.emplace(f, k), b = part_of_case.emplace(case_id(f), k);
        EXPECT_EQ(a.first->second, k) << "patient folder " << f << " is in two parts";
        EXPECT_EQ(b.first->second, k) << "TCGA case " << case_id(f) << " is in two parts";
        EXPECT_TRUE(files.insert(s.image_path).second) << s.image_path << " is in the split twice";
      }
      slices += parts[k]->size();
      EXPECT_EQ(std::set<std::string>(lists[k]->begin(), lists[k]->end()), folders)
          << "part " << k << ": its patient list differs from its slices' folders";
    }
    EXPECT_EQ(slices, ds.samples.size());
    EXPECT_EQ(files.size(), ds.samples.size());
    EXPECT_EQ(part_of_folder.size(), 40u);
    EXPECT_EQ(split.val_patients.size(), static_cast<size_t>(std::llround(cfg.val * 40)));
    EXPECT_EQ(split.test_patients.size(), static_cast<size_t>(std::llround(cfg.test * 40)));
  }
}

}  // namespace
}  // namespace glia::io
