// Helpers for the loader and decoded-cache tests: the batches of some epochs, and a
// bit-for-bit comparison of two runs' batches.
#pragma once
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "io/loader.h"

namespace glia::io::test {

// Every batch of epochs first_epoch .. first_epoch + epochs - 1, in order.
inline std::vector<Batch> run_epochs(std::shared_ptr<const ExampleSource> source, const LoaderOptions& options,
                                     uint64_t first_epoch, int epochs, std::vector<size_t> order = {}) {
  Loader loader(std::move(source), options, std::move(order));
  std::vector<Batch> out;
  for (uint64_t e = first_epoch; e < first_epoch + static_cast<uint64_t>(epochs); ++e) {
    loader.start_epoch(e);
    Batch b;
    while (loader.next(b)) out.push_back(b);
  }
  return out;
}

// Bit-for-bit: memcmp, so even NaNs or -0 would count as different.
inline void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].n, b[i].n) << "batch " << i;
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_EQ(a[i].labels, b[i].labels) << "batch " << i;
    ASSERT_EQ(a[i].images.size(), b[i].images.size());
    EXPECT_EQ(0, std::memcmp(a[i].images.data(), b[i].images.data(), a[i].images.size() * sizeof(float)))
        << "batch " << i << " images differ";
    ASSERT_EQ(a[i].masks.size(), b[i].masks.size());
    if (!a[i].masks.empty()) {
      EXPECT_EQ(0, std::memcmp(a[i].masks.data(), b[i].masks.data(), a[i].masks.size() * sizeof(float)))
          << "batch " << i << " masks differ";
    }
  }
}

}  // namespace glia::io::test
