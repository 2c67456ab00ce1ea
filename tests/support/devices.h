// Devices a parameterised test runs on: cpu always, sim when built, cuda when a GPU is
// present. GLIA_TEST_DEVICES=cpu,sim overrides the list (unknown names are an error, and
// so is a named device that cannot be used here: the error carries CUDA's own reason, so
// a GPU check that asked for cuda never passes on cpu and sim alone).
//
//   INSTANTIATE_TEST_SUITE_P(Devices, MyTest, ::testing::ValuesIn(glia::test::devices()),
//                            glia::test::device_param_name);
// A kernel missing on a device is not skipped: the op's get() throws, naming the op and the
// backend, and the test fails (tests/kernels_ops/registry_test.cpp checks every slot).
#pragma once
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/device.h"
#include "kernels/registry.h"

namespace glia::test {

inline std::vector<Device> devices() {
  std::vector<Device> out;
  const char* env = std::getenv("GLIA_TEST_DEVICES");
  if (env != nullptr && *env != '\0') {
    std::stringstream list(env);
    std::string name;
    while (std::getline(list, name, ',')) {
      if (name.empty()) continue;
      const Device d = parse_device(name);
      try {
        require_device(d, "GLIA_TEST_DEVICES");
      } catch (const std::exception& e) {
        // Called while gtest registers the tests, where an exception would only say
        // "terminate called": say why, and fail the run (ctest's discovery fails too).
        std::cerr << e.what() << "\n";
        std::exit(2);
      }
      out.push_back(d);
    }
    return out;
  }
  for (Device d : {Device::cpu, Device::sim, Device::cuda}) {
    if (device_available(d)) out.push_back(d);
  }
  return out;
}

inline std::string device_param_name(const ::testing::TestParamInfo<Device>& info) {
  return device_name(info.param);
}

}  // namespace glia::test
