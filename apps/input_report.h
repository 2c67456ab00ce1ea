// What a command did with the inputs it found: how many it used and how many it left
// out, and why. Printed (unless --quiet) and written to metrics.json as
//   "inputs": {"Testing": {"found": 1311, "used": 1284, "dropped": {"duplicate": 27}}, ...}
// found = used + the dropped counts + outside_split (images of the folder that belong to
// another part of the split, e.g. training images when evaluating --split val).
#pragma once
#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "apps/loader_source.h"
#include "io/classification_dataset.h"
#include "tensor/json.h"

namespace glia::app {

struct InputReport {
  std::string folder;  // "Training", "Testing", or "pairs" (segmentation)
  size_t found = 0, used = 0, outside_split = 0;
  std::vector<std::pair<std::string, size_t>> dropped;  // reason, count > 0
  std::vector<std::pair<std::string, size_t>> notes;    // e.g. duplicates kept, with their count

  void drop(const std::string& reason, size_t count);
  Json to_json() const;
  // "Testing: 1311 images found, 1284 used; left out: 27 as duplicates (...)", or
  // empty when nothing was left out and there is nothing to note.
  std::string describe(const std::string& unit) const;
};

// The counts of one split folder of a classification dataset opened with or without
// drop_duplicates; `used` and `outside_split` are left to the caller.
InputReport classification_inputs(const io::ClassificationDataset& ds, const io::ClassificationSplit& split,
                                  bool duplicates_dropped);

// The bad inputs skipped (--skip-bad) when the dataset was opened and, once each, those
// the loaders skipped while reading (a file skipped every epoch is listed once).
std::vector<std::string> skipped_inputs(std::vector<std::string> at_open, std::initializer_list<LoaderSource*> loaders);

// metrics["inputs"]: the reports and, when non-empty, the bad inputs skipped (--skip-bad).
Json inputs_json(const std::vector<InputReport>& reports, const std::vector<std::string>& skipped_bad);
// Prints each report's describe() and the number of bad inputs skipped, unless quiet.
void print_inputs(const std::string& command, const std::vector<InputReport>& reports,
                  const std::vector<std::string>& skipped_bad, const std::string& unit, bool quiet);

}  // namespace glia::app
