// Dataset discovery, duplicates, bad input and deterministic splits, on phantom trees
// written into a temp dir in both real layouts.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "io/classification_dataset.h"
#include "io/phantom.h"
#include "io/segmentation_dataset.h"
#include "kernels/error.h"
#include "tests/io/io_test_util.h"

namespace glia::io {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

void expect_error_mentions(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "expected a glia::Error";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

ClassificationDatasetOptions quiet_skip() {
  ClassificationDatasetOptions o;
  o.skip_bad = true;
  o.quiet = true;
  return o;
}

TEST(ClassificationDataset, CountsClassesInFixedOrder) {
  TempDir dir;
  write_classification_phantoms(dir.str(), 5, 2, 24, 11);
  ClassificationDataset ds = open_classification_dataset(dir.str());
  ASSERT_TRUE(ds.training.present);
  ASSERT_TRUE(ds.testing.present);
  EXPECT_EQ(ds.training.samples.size(), 20u);
  EXPECT_EQ(ds.testing.samples.size(), 8u);
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(ds.training.class_counts[c], 5u);
    EXPECT_EQ(ds.testing.class_counts[c], 2u);
  }
  for (const auto& s : ds.training.samples) {
    // The label is the position of the folder name in glioma, meningioma, notumor, pituitary.
    std::string folder = fs::path(s.path).parent_path().filename().string();
    EXPECT_STREQ(tumour_class_names()[s.label], folder.c_str());
    EXPECT_EQ(s.format, ImageFormat::png);  // phantoms are PNGs named .jpg
    EXPECT_EQ(fs::path(s.path).extension(), ".jpg");
  }
  EXPECT_TRUE(std::is_sorted(ds.training.samples.begin(), ds.training.samples.end(),
                             [](const auto& a, const auto& b) { return a.path < b.path; }));
  EXPECT_TRUE(ds.training.duplicate_groups.empty());
  EXPECT_TRUE(ds.cross_split_duplicates.empty());
  EXPECT_NE(ds.summary().find("glioma 5"), std::string::npos) << ds.summary();
  EXPECT_EQ(tumour_class_label("pituitary"), 3);
  EXPECT_EQ(tumour_class_label("no_tumor"), -1);
}

TEST(ClassificationDataset, FindsAndDropsDuplicates) {
  TempDir dir;
  write_classification_phantoms(dir.str(), 4, 2, 24, 5);
  const std::string tr = dir / "Training", te = dir / "Testing";
  // Two extra copies of one notumor image, and a Testing glioma copied into Training.
  fs::copy_file(tr + "/notumor/Tr-no_0.jpg", tr + "/notumor/Tr-no_0_copy.jpg");
  fs::copy_file(tr + "/notumor/Tr-no_0.jpg", tr + "/notumor/zz_again.jpg");
  fs::copy_file(te + "/glioma/Te-gl_1.jpg", tr + "/glioma/leaked.jpg");

  ClassificationDataset keep = open_classification_dataset(dir.str());
  EXPECT_EQ(keep.training.samples.size(), 16u + 3u);
  ASSERT_EQ(keep.training.duplicate_groups.size(), 1u);
  EXPECT_EQ(keep.training.duplicate_groups[0].size(), 3u);
  ASSERT_EQ(keep.cross_split_duplicates.size(), 1u);
  EXPECT_EQ(keep.cross_split_duplicates[0].first, tr + "/glioma/leaked.jpg");
  EXPECT_EQ(keep.cross_split_duplicates[0].second, te + "/glioma/Te-gl_1.jpg");

  ClassificationDatasetOptions drop;
  drop.drop_duplicates = true;
  ClassificationDataset dropped = open_classification_dataset(dir.str(), drop);
  EXPECT_EQ(dropped.training.samples.size(), 16u);
  EXPECT_EQ(dropped.training.duplicates_dropped, 3u);
  EXPECT_EQ(dropped.training.class_counts[2], 4u);
  EXPECT_EQ(dropped.testing.samples.size(), 8u);  // the test split is never reduced
  for (const auto& s : dropped.training.samples) {
    EXPECT_EQ(s.path.find("leaked"), std::string::npos);
    EXPECT_EQ(s.path.find("Tr-no_0_copy"), std::string::npos);
  }
}

TEST(ClassificationDataset, BadInputIsAnErrorOrASkip) {
  TempDir dir;
  write_classification_phantoms(dir.str(), 3, 0, 20, 3);
  const std::string tr = dir / "Training";
  test::write_text(tr + "/meningioma/readme.jpg", "not an image");
  test::write_bytes(tr + "/pituitary/empty.jpg", {});
  fs::create_directories(tr + "/no_tumor");
  test::write_text(tr + "/no_tumor/x.jpg", "x");

  // Errors come in path order: meningioma/readme.jpg, no_tumor/, pituitary/empty.jpg.
  ClassificationDataset ds = open_classification_dataset(dir.str(), quiet_skip());
  EXPECT_EQ(ds.skipped.size(), 3u);  // text file, unknown folder, empty file
  EXPECT_EQ(ds.training.samples.size(), 12u);
  expect_error_mentions([&] { open_classification_dataset(dir.str()); }, {"readme.jpg", "not an image"});
  fs::remove(tr + "/meningioma/readme.jpg");
  expect_error_mentions([&] { open_classification_dataset(dir.str()); }, {"no_tumor", "unknown class folder"});
  fs::remove_all(tr + "/no_tumor");
  expect_error_mentions([&] { open_classification_dataset(dir.str()); }, {"empty.jpg", "empty file"});
  fs::remove(tr + "/pituitary/empty.jpg");
  EXPECT_NO_THROW(open_classification_dataset(dir.str()));

  for (const auto& f : fs::directory_iterator(tr + "/glioma")) fs::remove(f.path());
  expect_error_mentions([&] { open_classification_dataset(dir.str()); }, {"glioma", "no images"});
  fs::remove_all(tr + "/glioma");
  expect_error_mentions([&] { open_classification_dataset(dir.str()); }, {"'glioma' is missing"});

  expect_error_mentions([&] { open_classification_dataset(dir / "nowhere"); }, {"nowhere", "does not exist"});
  test::write_text(dir / "file", "x");
  expect_error_mentions([&] { open_classification_dataset(dir / "file"); }, {"is not a directory"});
  fs::create_directories(dir / "plain");
  expect_error_mentions([&] { open_classification_dataset(dir / "plain"); }, {"neither Training/ nor Testing/"});
}

TEST(ClassificationDataset, VerifyDecodeFindsCorruptImagesAtOpen) {
  TempDir dir;
  write_classification_phantoms(dir.str(), 3, 0, 20, 8);
  std::string victim = dir / "Training/meningioma/Tr-me_1.jpg";
  std::vector<uint8_t> bytes = test::read_bytes(victim);
  bytes.resize(bytes.size() / 2);  // truncated, but still starts like a PNG
  test::write_bytes(victim, bytes);
  EXPECT_NO_THROW(open_classification_dataset(dir.str()));  // only signatures are checked
  ClassificationDatasetOptions verify;
  verify.verify_decode = true;
  expect_error_mentions([&] { open_classification_dataset(dir.str(), verify); }, {"Tr-me_1.jpg", "PNG"});
  verify.skip_bad = verify.quiet = true;
  ClassificationDataset ds = open_classification_dataset(dir.str(), verify);
  EXPECT_EQ(ds.skipped.size(), 1u);
  EXPECT_EQ(ds.training.class_counts[1], 2u);
  EXPECT_EQ(ds.training.samples.size(), 11u);
}

TEST(ClassificationDataset, UnreadableRootIsAnError) {
  // Works as root too: a symlink loop cannot be resolved whatever the permissions.
  TempDir dir;
  fs::create_symlink(dir / "loop", dir / "loop");
  expect_error_mentions([&] { open_classification_dataset(dir / "loop"); }, {"loop", "cannot access"});
}

TEST(ClassificationDataset, UnreadableFolderIsAnError) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root: permissions do not stop reading";
  TempDir dir;
  write_classification_phantoms(dir.str(), 2, 0, 20, 3);
  fs::permissions(dir / "Training/glioma", fs::perms::none);
  expect_error_mentions([&] { open_classification_dataset(dir.str()); }, {"glioma", "cannot"});
  fs::permissions(dir / "Training/glioma", fs::perms::owner_all);
}

std::vector<ClassificationSample> synthetic_samples(const std::array<int, 4>& counts) {
  std::vector<ClassificationSample> v;
  uint64_t h = 1;
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < counts[c]; ++i) v.push_back({"s" + std::to_string(c) + "_" + std::to_string(i), c, h++, 100, ImageFormat::png});
  return v;
}

TEST(StratifiedSplit, ProportionalDeterministicDisjoint) {
  const std::array<int, 4> counts = {37, 23, 50, 11};
  auto samples = synthetic_samples(counts);
  TrainValSplit a = stratified_split(samples, 0.2, 42), b = stratified_split(samples, 0.2, 42),
                c = stratified_split(samples, 0.2, 43);
  std::array<int, 4> val_counts{};
  for (const auto& s : a.val) ++val_counts[s.label];
  for (int k = 0; k < 4; ++k) EXPECT_EQ(val_counts[k], static_cast<int>(std::lround(0.2 * counts[k]))) << k;
  std::set<std::string> all;
  for (const auto& s : a.train) all.insert(s.path);
  for (const auto& s : a.val) EXPECT_TRUE(all.insert(s.path).second) << s.path << " in both";
  EXPECT_EQ(all.size(), samples.size());
  auto paths = [](const std::vector<ClassificationSample>& v) {
    std::vector<std::string> p;
    for (const auto& s : v) p.push_back(s.path);
    return p;
  };
  EXPECT_EQ(paths(a.val), paths(b.val));
  EXPECT_NE(paths(a.val), paths(c.val));
  EXPECT_THROW(stratified_split(samples, 1.0, 1), Error);
}

TEST(StratifiedSplit, DuplicatesStayOnOneSide) {
  auto samples = synthetic_samples({20, 20, 20, 20});
  for (int i = 0; i < 10; ++i) samples[40 + 2 * i + 1].hash = samples[40 + 2 * i].hash;  // 10 pairs in notumor
  for (uint64_t seed = 0; seed < 20; ++seed) {
    TrainValSplit s = stratified_split(samples, 0.3, seed);
    std::set<uint64_t> train_hashes;
    for (const auto& x : s.train) train_hashes.insert(x.hash);
    for (const auto& x : s.val) EXPECT_EQ(train_hashes.count(x.hash), 0u) << "seed " << seed << " " << x.path;
  }
}

TEST(SegmentationDataset, PairsPatientsAndTumourCounts) {
  TempDir dir;
  write_segmentation_phantoms(dir.str(), 5, 7, 48, 9, /*deflate=*/true);
  test::write_text(dir / "data.csv", "Patient,x\n");  // beside the folders, like the real one
  SegmentationDataset ds = open_segmentation_dataset(dir.str());
  EXPECT_EQ(ds.patients.size(), 5u);
  ASSERT_EQ(ds.samples.size(), 35u);
  // Count tumour slices independently: any non-zero pixel of the mask file.
  size_t positive = 0;
  for (const auto& s : ds.samples) {
    cv::Mat m = cv::imread(s.mask_path, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(m.empty()) << s.mask_path;
    bool any = cv::countNonZero(m.reshape(1)) > 0;
    EXPECT_EQ(s.has_tumour, any) << s.mask_path;
    positive += any;
    EXPECT_EQ(s.height, 48);
    EXPECT_EQ(fs::path(s.image_path).parent_path().filename().string(), s.patient);
    EXPECT_EQ(s.mask_path, s.image_path.substr(0, s.image_path.size() - 4) + "_mask.tif");
  }
  EXPECT_GT(positive, 0u);
  EXPECT_LT(positive, ds.samples.size());
  EXPECT_EQ(ds.with_tumour(), positive);
  EXPECT_EQ(ds.samples[0].slice, 1);
  EXPECT_EQ(ds.samples[1].slice, 2);  // numeric, not lexical, slice order
}

TEST(SegmentationDataset, UncompressedTiffsLoadToo) {
  TempDir dir;
  write_segmentation_phantoms(dir.str(), 2, 3, 32, 1, /*deflate=*/false);
  EXPECT_EQ(open_segmentation_dataset(dir.str()).samples.size(), 6u);
}

TEST(SegmentationDataset, BadPairsAreErrorsOrSkips) {
  TempDir dir;
  write_segmentation_phantoms(dir.str(), 3, 4, 32, 2);
  const std::string p0 = dir / "TCGA_PH_0000_20000101/TCGA_PH_0000_20000101";
  const std::string p1 = dir / "TCGA_PH_0001_20000101/TCGA_PH_0001_20000101";
  fs::remove(p0 + "_2_mask.tif");
  ASSERT_TRUE(cv::imwrite(p1 + "_3_mask.tif", cv::Mat::zeros(16, 32, CV_8UC1)));  // 32 wide, 16 high
  expect_error_mentions([&] { open_segmentation_dataset(dir.str()); }, {"_2.tif", "image without mask"});
  SegmentationDatasetOptions skip;
  skip.skip_bad = true;
  skip.quiet = true;
  SegmentationDataset ds = open_segmentation_dataset(dir.str(), skip);
  EXPECT_EQ(ds.samples.size(), 10u);
  EXPECT_EQ(ds.skipped.size(), 2u);
  fs::remove(p0 + "_2.tif");
  expect_error_mentions([&] { open_segmentation_dataset(dir.str()); }, {"_3_mask.tif", "mask is 32x16 but", "is 32x32 (width x height)"});
  ASSERT_TRUE(cv::imwrite(p1 + "_3_mask.tif", cv::Mat::zeros(32, 32, CV_8UC1)));
  test::write_text(p1 + "_4.tif", "truncated");
  expect_error_mentions([&] { open_segmentation_dataset(dir.str()); }, {"_4.tif", "not an image"});
  test::write_bytes(p1 + "_4.tif", {});
  expect_error_mentions([&] { open_segmentation_dataset(dir.str()); }, {"_4.tif", "empty file"});
  fs::create_directories(dir / "empty_dir");
  fs::remove(p1 + "_4.tif");
  fs::remove(p1 + "_4_mask.tif");
  expect_error_mentions([&] { open_segmentation_dataset(dir.str()); }, {"empty_dir", "no"});
  expect_error_mentions([&] { open_segmentation_dataset(dir / "missing"); }, {"missing", "does not exist"});
}

TEST(PatientSplit, NoPatientInTwoSplitsAndDeterministic) {
  TempDir dir;
  write_segmentation_phantoms(dir.str(), 10, 3, 24, 4);
  SegmentationDataset ds = open_segmentation_dataset(dir.str());
  PatientSplit a = split_by_patient(ds, 0.2, 0.1, 7), b = split_by_patient(ds, 0.2, 0.1, 7);
  EXPECT_EQ(a.val_patients.size(), 2u);
  EXPECT_EQ(a.test_patients.size(), 1u);
  EXPECT_EQ(a.train_patients.size(), 7u);
  EXPECT_EQ(a.val_patients, b.val_patients);
  EXPECT_EQ(a.test_patients, b.test_patients);
  std::set<std::string> seen;
  for (const auto* list : {&a.train_patients, &a.val_patients, &a.test_patients})
    for (const auto& p : *list) EXPECT_TRUE(seen.insert(p).second) << p << " in two splits";
  EXPECT_EQ(seen.size(), 10u);
  auto patients_of = [](const std::vector<SegmentationSample>& v) {
    std::set<std::string> s;
    for (const auto& x : v) s.insert(x.patient);
    return s;
  };
  EXPECT_EQ(patients_of(a.val), std::set<std::string>(a.val_patients.begin(), a.val_patients.end()));
  EXPECT_EQ(a.train.size() + a.val.size() + a.test.size(), ds.samples.size());
  bool differs = false;
  for (uint64_t seed = 8; seed < 16 && !differs; ++seed) differs = split_by_patient(ds, 0.2, 0.1, seed).val_patients != a.val_patients;
  EXPECT_TRUE(differs);
  EXPECT_THROW(split_by_patient(ds, 0.6, 0.5, 1), Error);
}

TEST(SegmentationDataset, OversamplePositive) {
  std::vector<SegmentationSample> v(5);
  v[1].has_tumour = v[4].has_tumour = true;
  EXPECT_EQ(oversample_positive(v, 1), (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(oversample_positive(v, 3), (std::vector<size_t>{0, 1, 1, 1, 2, 3, 4, 4, 4}));
  EXPECT_THROW(oversample_positive(v, 0), Error);
}

}  // namespace
}  // namespace glia::io
