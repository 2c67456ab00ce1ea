#include "apps/input_report.h"

#include <algorithm>
#include <iostream>
#include <sstream>

namespace glia::app {

namespace {
// The reasons and notes of metrics.json in words.
std::string why(const std::string& key) {
  if (key == "duplicate") return "as duplicates (byte-identical copies of another image of the folder; --keep-duplicates keeps them)";
  if (key == "copy_of_testing")
    return "as copies of Testing images (kept out of training, so the test score has no leakage; --keep-duplicates keeps them)";
  if (key == "max_images") return "beyond --max-images";
  if (key == "duplicates_kept") return "byte-identical copies kept (--keep-duplicates)";
  if (key == "copies_of_testing_kept") return "copies of Testing images kept (--keep-duplicates): the test score is inflated";
  return key;
}
}  // namespace

void InputReport::drop(const std::string& reason, size_t count) {
  if (count > 0) dropped.emplace_back(reason, count);
}

Json InputReport::to_json() const {
  Json j = Json::object();
  j["found"] = Json(static_cast<int64_t>(found));
  j["used"] = Json(static_cast<int64_t>(used));
  Json d = Json::object();
  for (const auto& [reason, n] : dropped) d[reason] = Json(static_cast<int64_t>(n));
  j["dropped"] = d;
  if (outside_split > 0) j["outside_split"] = Json(static_cast<int64_t>(outside_split));
  for (const auto& [what, n] : notes) j[what] = Json(static_cast<int64_t>(n));
  return j;
}

std::string InputReport::describe(const std::string& unit) const {
  if (dropped.empty() && notes.empty()) return "";
  std::ostringstream s;
  s << folder << ": " << found << " " << unit << " found, " << used << " used";
  if (outside_split > 0) s << " (" << outside_split << " belong to another part of the split)";
  if (!dropped.empty()) {
    s << "; left out:";
    for (size_t i = 0; i < dropped.size(); ++i) s << (i ? "," : "") << " " << dropped[i].second << " " << why(dropped[i].first);
  }
  for (const auto& [what, n] : notes) s << "; " << n << " " << why(what);
  return s.str();
}

InputReport classification_inputs(const io::ClassificationDataset& ds, const io::ClassificationSplit& split,
                                  bool duplicates_dropped) {
  InputReport r;
  r.folder = split.name;
  size_t copies = 0;  // beyond the first of each group of byte-identical files
  for (const auto& group : split.duplicate_groups) copies += group.size() - 1;
  r.found = split.samples.size() + split.duplicates_dropped;
  if (duplicates_dropped) {
    r.drop("duplicate", copies);
    // Training files identical to a Testing file (only the Training split has these).
    r.drop("copy_of_testing", split.duplicates_dropped - copies);
  } else {
    if (copies > 0) r.notes.emplace_back("duplicates_kept", copies);
    if (&split == &ds.training && !ds.cross_split_duplicates.empty())
      r.notes.emplace_back("copies_of_testing_kept", ds.cross_split_duplicates.size());
  }
  return r;
}

std::vector<std::string> skipped_inputs(std::vector<std::string> at_open, std::initializer_list<LoaderSource*> loaders) {
  for (LoaderSource* loader : loaders) {
    if (loader == nullptr) continue;
    for (const auto& m : loader->loader().skipped_messages())
      if (std::find(at_open.begin(), at_open.end(), m) == at_open.end()) at_open.push_back(m);
  }
  return at_open;
}

Json inputs_json(const std::vector<InputReport>& reports, const std::vector<std::string>& skipped_bad) {
  Json j = Json::object();
  for (const auto& r : reports) j[r.folder] = r.to_json();
  if (!skipped_bad.empty()) {
    Json list = Json::array();
    for (const auto& m : skipped_bad) list.push_back(Json(m));
    j["skipped_as_bad"] = list;
  }
  return j;
}

void print_inputs(const std::string& command, const std::vector<InputReport>& reports,
                  const std::vector<std::string>& skipped_bad, const std::string& unit, bool quiet) {
  // Data left out is a warning even with --quiet (which silences progress, not this).
  if (!skipped_bad.empty())
    std::cerr << command << ": warning: " << skipped_bad.size() << " bad input"
              << (skipped_bad.size() == 1 ? "" : "s") << " skipped (--skip-bad), first " << skipped_bad.front()
              << "; all listed in metrics.json" << std::endl;
  if (quiet) return;
  for (const auto& r : reports) {
    const std::string line = r.describe(unit);
    if (!line.empty()) std::cout << command << ": " << line << std::endl;
  }
}

}  // namespace glia::app
