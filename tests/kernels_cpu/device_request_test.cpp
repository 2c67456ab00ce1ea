// What glia says when a device it was asked for cannot be used, and the GLIA_CUDA_SYNC
// switch (kernels/device.h, kernels/runtime.h). The GPU side of both runs in
// scripts/gpu-check.sh; here, a build or machine without a GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "kernels/device.h"
#include "kernels/error.h"
#include "kernels/runtime.h"

namespace glia {
namespace {

TEST(DeviceRequest, CpuAndBuiltSimAreAlwaysUsable) {
  EXPECT_EQ(device_unavailable_reason(Device::cpu), "");
  EXPECT_NO_THROW(require_device(Device::cpu, "test"));
  if (rt::backend_built(Device::sim)) {
    EXPECT_EQ(device_unavailable_reason(Device::sim), "");
  }
}

// Without a usable GPU, asking for cuda is an error that says why: the build has no
// CUDA, or CUDA's own error from cudaGetDeviceCount.
TEST(DeviceRequest, MissingCudaIsAnErrorWithTheReason) {
  if (device_available(Device::cuda)) GTEST_SKIP() << "a GPU is usable here";
  const std::string why = device_unavailable_reason(Device::cuda);
  ASSERT_FALSE(why.empty());
  if (!rt::backend_built(Device::cuda)) {
    EXPECT_NE(why.find("built without CUDA"), std::string::npos) << why;
  } else {
    EXPECT_NE(why.find("cudaGetDeviceCount"), std::string::npos) << why;
  }
  try {
    require_device(Device::cuda, "GLIA_TEST_DEVICES");
    FAIL() << "require_device(cuda) did not throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("GLIA_TEST_DEVICES: device 'cuda' was requested but cannot be used: "), std::string::npos)
        << msg;
    EXPECT_NE(msg.find(why), std::string::npos) << msg;
  }
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(CudaSync, ReadsGliaCudaSyncStrictly) {
  {
    ScopedEnv env("GLIA_CUDA_SYNC", nullptr);
    EXPECT_FALSE(rt::sync_after_launch_from_env());
  }
  {
    ScopedEnv env("GLIA_CUDA_SYNC", "1");
    EXPECT_TRUE(rt::sync_after_launch_from_env());
  }
  {
    ScopedEnv env("GLIA_CUDA_SYNC", "0");
    EXPECT_FALSE(rt::sync_after_launch_from_env());
  }
  {
    ScopedEnv env("GLIA_CUDA_SYNC", "yes");
    try {
      rt::sync_after_launch_from_env();
      FAIL() << "GLIA_CUDA_SYNC=yes was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("GLIA_CUDA_SYNC='yes' is not 0 or 1"), std::string::npos) << e.what();
    }
  }
  const bool was = rt::sync_after_launch();
  rt::set_sync_after_launch(!was);
  EXPECT_EQ(rt::sync_after_launch(), !was);
  rt::set_sync_after_launch(was);
}

}  // namespace
}  // namespace glia
