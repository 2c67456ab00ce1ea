#include <gtest/gtest.h>

#include "kernels/device.h"
#include "kernels/error.h"

TEST(Build, ParsesDeviceNamesAndRejectsUnknown) {
  EXPECT_EQ(glia::parse_device("sim"), glia::Device::sim);
  EXPECT_THROW(glia::parse_device("tpu"), glia::Error);
}
