#include "io/classification_dataset.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <sstream>
#include <system_error>
#include <thread>

#include "io/bad_input.h"
#include "io/files.h"
#include "io/random.h"
#include "kernels/error.h"

namespace glia::io {

namespace fs = std::filesystem;

const std::array<const char*, kNumTumourClasses>& tumour_class_names() {
  static const std::array<const char*, kNumTumourClasses> names = {"glioma", "meningioma", "notumor",
                                                                   "pituitary"};
  return names;
}

int tumour_class_label(const std::string& name) {
  const auto& names = tumour_class_names();
  for (int i = 0; i < kNumTumourClasses; ++i)
    if (name == names[i]) return i;
  return -1;
}

uint64_t content_hash(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

namespace {

bool same_bytes(const std::string& a, const std::string& b) {
  return read_file_bytes(a) == read_file_bytes(b);
}

using ContentKey = std::pair<uint64_t, size_t>;  // (hash, size)

void scan_split(const fs::path& dir, ClassificationSplit& split, BadInputLog& log) {
  split.present = true;
  std::array<bool, kNumTumourClasses> seen{};
  for (const fs::path& entry : list_directory(dir, "split folder")) {
    if (is_hidden(entry)) continue;
    std::error_code ec;
    if (!fs::is_directory(entry, ec)) continue;  // README and such beside the class folders
    std::string name = entry.filename().string();
    int label = tumour_class_label(name);
    if (label < 0) {
      log.bad(entry.string() + ": unknown class folder '" + name +
              "' (glia's classes, in label order: glioma, meningioma, notumor, pituitary)");
      continue;
    }
    seen[label] = true;
    std::vector<fs::path> files;
    try {
      files = list_directory(entry, "class folder");
    } catch (const Error& e) {
      log.bad(e.what());
      continue;
    }
    size_t kept = 0;
    for (const fs::path& file : files) {
      if (is_hidden(file)) continue;
      const std::string path = file.string();
      // Returns only with skip_bad (else BadInputLog throws).
      auto skip = [&](const std::string& message) {
        log.bad(message);
        ++split.skipped_per_class[label];
      };
      if (!fs::is_regular_file(file, ec)) {
        skip(path + ": not a regular file inside class folder " + entry.string());
        continue;
      }
      std::vector<uint8_t> bytes;
      try {
        bytes = read_file_bytes(path);
      } catch (const Error& e) {
        skip(e.what());
        continue;
      }
      if (bytes.empty()) {
        skip(path + ": empty file (0 bytes), not an image");
        continue;
      }
      ImageFormat format = detect_format(bytes.data(), bytes.size());
      if (format == ImageFormat::unknown) {
        skip(path + ": not an image (content matches no PNG, JPEG, TIFF or BMP signature)");
        continue;
      }
      split.samples.push_back({path, label, content_hash(bytes.data(), bytes.size()), bytes.size(), format});
      ++kept;
    }
    if (kept == 0) log.bad(entry.string() + ": class folder holds no images");
  }
  for (int c = 0; c < kNumTumourClasses; ++c)
    if (!seen[c])
      log.bad(dir.string() + ": class folder '" + tumour_class_names()[c] + "' is missing");
  std::sort(split.samples.begin(), split.samples.end(),
            [](const ClassificationSample& a, const ClassificationSample& b) { return a.path < b.path; });
}

// Groups of byte-identical samples (indices into split.samples, in path order).
std::vector<std::vector<size_t>> find_duplicates(const std::vector<ClassificationSample>& samples) {
  std::map<ContentKey, std::vector<size_t>> by_key;
  for (size_t i = 0; i < samples.size(); ++i) by_key[{samples[i].hash, samples[i].bytes}].push_back(i);
  std::vector<std::vector<size_t>> groups;
  for (auto& [key, members] : by_key) {
    if (members.size() < 2) continue;
    // Confirm byte for byte; a hash collision splits into separate groups.
    std::vector<bool> used(members.size(), false);
    for (size_t a = 0; a < members.size(); ++a) {
      if (used[a]) continue;
      std::vector<size_t> group{members[a]};
      for (size_t b = a + 1; b < members.size(); ++b)
        if (!used[b] && same_bytes(samples[members[a]].path, samples[members[b]].path)) {
          group.push_back(members[b]);
          used[b] = true;
        }
      if (group.size() > 1) groups.push_back(group);
    }
  }
  std::sort(groups.begin(), groups.end());
  return groups;
}

void count_classes(ClassificationSplit& split) {
  split.class_counts.fill(0);
  for (const auto& s : split.samples) ++split.class_counts[s.label];
}

void remove_marked(std::vector<ClassificationSample>& samples, const std::vector<bool>& drop) {
  std::vector<ClassificationSample> kept;
  for (size_t i = 0; i < samples.size(); ++i)
    if (!drop[i]) kept.push_back(std::move(samples[i]));
  samples = std::move(kept);
}

}  // namespace

ClassificationDataset open_classification_dataset(const std::string& root,
                                                  const ClassificationDatasetOptions& options) {
  ClassificationDataset ds;
  ds.root = root;
  ds.training.name = "Training";
  ds.testing.name = "Testing";
  BadInputLog log(options.skip_bad, options.quiet);
  std::vector<fs::path> entries = list_directory(root, "classification dataset root");
  (void)entries;
  std::error_code ec;
  bool has_training = fs::is_directory(fs::path(root) / "Training", ec);
  bool has_testing = fs::is_directory(fs::path(root) / "Testing", ec);
  GLIA_CHECK(has_training || has_testing,
             "classification dataset root " << root
                 << " holds neither Training/ nor Testing/ (expected <root>/Training/<class>/*.jpg "
                    "with classes glioma, meningioma, notumor, pituitary)");
  if (has_training) scan_split(fs::path(root) / "Training", ds.training, log);
  if (has_testing) scan_split(fs::path(root) / "Testing", ds.testing, log);

  if (options.verify_decode) {
    for (ClassificationSplit* split : {&ds.training, &ds.testing}) {
      std::vector<std::string> errors(split->samples.size());
      std::atomic<size_t> next{0};
      auto work = [&] {
        for (size_t i = next++; i < split->samples.size(); i = next++) {
          try {
            std::vector<uint8_t> bytes = read_file_bytes(split->samples[i].path);
            probe_image(bytes.data(), bytes.size(), split->samples[i].path);
          } catch (const Error& e) {
            errors[i] = e.what();
          }
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < std::max(1, options.threads); ++t) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
      std::vector<bool> drop(split->samples.size(), false);
      for (size_t i = 0; i < errors.size(); ++i)
        if (!errors[i].empty()) {  // in path order
          log.bad(errors[i]);
          drop[i] = true;
          ++split->skipped_per_class[split->samples[i].label];
        }
      remove_marked(split->samples, drop);
      if (!split->present) continue;
      count_classes(*split);
      for (int c = 0; c < kNumTumourClasses; ++c)
        if (split->class_counts[c] == 0 && std::count(drop.begin(), drop.end(), true) > 0)
          log.bad((fs::path(root) / split->name / tumour_class_names()[c]).string() +
                  ": no image of this class decodes");
    }
  }

  // Within-split duplicates.
  for (ClassificationSplit* split : {&ds.training, &ds.testing}) {
    std::vector<bool> drop(split->samples.size(), false);
    for (const auto& group : find_duplicates(split->samples)) {
      std::vector<std::string> paths;
      for (size_t i : group) paths.push_back(split->samples[i].path);
      split->duplicate_groups.push_back(paths);
      for (size_t k = 1; k < group.size(); ++k) drop[group[k]] = true;
    }
    if (options.drop_duplicates) {
      split->duplicates_dropped = static_cast<size_t>(std::count(drop.begin(), drop.end(), true));
      remove_marked(split->samples, drop);
      if (!split->present) continue;
      count_classes(*split);
      for (int c = 0; c < kNumTumourClasses; ++c)
        if (split->class_counts[c] == 0 && std::count(drop.begin(), drop.end(), true) > 0)
          log.bad((fs::path(root) / split->name / tumour_class_names()[c]).string() +
                  ": no image of this class decodes");
    }
  }
  // Training copies of Testing images.
  if (ds.training.present && ds.testing.present) {
    std::multimap<ContentKey, size_t> testing_keys;
    for (size_t i = 0; i < ds.testing.samples.size(); ++i)
      testing_keys.insert({{ds.testing.samples[i].hash, ds.testing.samples[i].bytes}, i});
    std::vector<bool> drop(ds.training.samples.size(), false);
    for (size_t i = 0; i < ds.training.samples.size(); ++i) {
      const auto& s = ds.training.samples[i];
      auto range = testing_keys.equal_range({s.hash, s.bytes});
      for (auto it = range.first; it != range.second; ++it) {
        const std::string& other = ds.testing.samples[it->second].path;
        if (same_bytes(s.path, other)) {
          ds.cross_split_duplicates.push_back({s.path, other});
          drop[i] = true;
          break;
        }
      }
    }
    if (options.drop_duplicates) {
      ds.training.duplicates_dropped += static_cast<size_t>(std::count(drop.begin(), drop.end(), true));
      remove_marked(ds.training.samples, drop);
    }
  }
  count_classes(ds.training);
  count_classes(ds.testing);
  ds.skipped = log.messages();
  return ds;
}

std::string ClassificationDataset::summary() const {
  std::ostringstream s;
  s << "classification dataset " << root << "\n";
  for (const ClassificationSplit* split : {&training, &testing}) {
    if (!split->present) continue;
    size_t dup_files = 0;
    for (const auto& g : split->duplicate_groups) dup_files += g.size() - 1;
    s << "  " << split->name << ": " << split->samples.size() << " images (";
    for (int c = 0; c < kNumTumourClasses; ++c)
      s << (c ? ", " : "") << tumour_class_names()[c] << " " << split->class_counts[c];
    s << "); " << split->duplicate_groups.size() << " groups of byte-identical files ("
      << dup_files << " extra copies), " << split->duplicates_dropped << " dropped\n";
  }
  if (training.present && testing.present)
    s << "  Training files identical to a Testing file: " << cross_split_duplicates.size() << "\n";
  if (!skipped.empty()) s << "  bad inputs skipped: " << skipped.size() << "\n";
  return s.str();
}

TrainValSplit stratified_split(const std::vector<ClassificationSample>& samples, double val_fraction,
                               uint64_t seed) {
  GLIA_CHECK(val_fraction >= 0.0 && val_fraction < 1.0,
             "stratified_split: validation fraction " << val_fraction << " must be in [0, 1)");
  // Units of identical content, each owned by the class of its first member.
  std::map<ContentKey, std::vector<size_t>> units;
  for (size_t i = 0; i < samples.size(); ++i) units[{samples[i].hash, samples[i].bytes}].push_back(i);
  std::array<std::vector<const std::vector<size_t>*>, kNumTumourClasses> by_class;
  std::array<size_t, kNumTumourClasses> class_size{};
  std::vector<std::vector<size_t>> ordered;  // units in path order of their first member
  for (auto& [key, members] : units) ordered.push_back(members);
  std::sort(ordered.begin(), ordered.end());
  for (const auto& members : ordered) {
    int label = samples[members[0]].label;
    GLIA_CHECK(label >= 0 && label < kNumTumourClasses,
               "stratified_split: " << samples[members[0]].path << " has label " << label);
    by_class[label].push_back(&members);
    class_size[label] += members.size();
  }
  std::vector<bool> in_val(samples.size(), false);
  for (int c = 0; c < kNumTumourClasses; ++c) {
    Rng rng(seed, RngDomain::split, 0, static_cast<uint64_t>(c));
    shuffle_in_place(by_class[c], rng);
    size_t target = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(class_size[c])));
    size_t taken = 0;
    for (const auto* members : by_class[c]) {
      if (taken >= target) break;
      for (size_t i : *members) in_val[i] = true;
      taken += members->size();
    }
  }
  TrainValSplit out;
  for (size_t i = 0; i < samples.size(); ++i) (in_val[i] ? out.val : out.train).push_back(samples[i]);
  return out;
}

}  // namespace glia::io
