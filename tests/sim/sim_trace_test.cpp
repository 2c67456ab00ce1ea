// The emulator's block trace (kernels/sim/trace.h) of a kernel whose schedule is known:
// 40 threads (a full warp and a partial one of 8 lanes), two __syncthreads, and a
// __shfl_down_sync that only lanes 0-15 of warp 0 take.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "kernels/cuda/launch.cuh"
#include "kernels/sim/trace.h"
#include "tensor/json.h"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::Json;
using glia::sim_test::SimBuffer;

__global__ void traced_barriers(float* out) {
  __shared__ float s[64];
  const unsigned t = threadIdx.x;
  s[t] = static_cast<float>(t);
  __syncthreads();
  float v = s[(t + 1) % blockDim.x];
  if (t < 16) v += __shfl_down_sync(0xffffu, v, 1, 16);
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = v + s[t];
}

__global__ void other_kernel(float* out) { out[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f; }

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".json")).string();
}

Json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str(), path);
}

TEST(SimTrace, ShowsEveryThreadsBarriersAndTheDivergentShuffle) {
  const std::string path = temp_path("glia_sim_trace");
  glia::sim::TraceRequest request;
  request.path = path;
  request.kernel = "traced_barriers";
  request.block = uint3{1, 0, 0};
  glia::sim::set_trace(request);
  SimBuffer<float> out(3 * 40);
  GLIA_LAUNCH(other_kernel, 2, 40, 0, out.get());  // another kernel: not traced
  EXPECT_FALSE(glia::sim::trace_written());
  GLIA_LAUNCH(traced_barriers, 3, 40, 0, out.get());
  ASSERT_TRUE(glia::sim::trace_written());
  const Json doc = read_json(path);
  std::filesystem::remove(path);
  EXPECT_EQ(doc.at("otherData").at("block").as_string(), "(1,0,0)");
  EXPECT_NE(doc.at("otherData").at("kernel").as_string().find("traced_barriers"), std::string::npos);

  // Per thread (tid - 1 = linear index): its instants in order, and its runs.
  std::map<int64_t, std::vector<std::pair<double, std::string>>> instants;
  std::map<int64_t, int> runs;
  std::vector<std::pair<double, double>> all_runs;
  int warp_names = 0, lane_names = 0;
  double max_active_warp1 = 0;
  for (const Json& e : doc.at("traceEvents").items()) {
    const std::string ph = e.at("ph").as_string();
    if (ph == "M") {
      warp_names += e.at("name").as_string() == "process_name";
      lane_names += e.at("name").as_string() == "thread_name";
      continue;
    }
    const double ts = e.at("ts").as_number();
    if (ph == "C") {
      if (e.at("pid").as_integer() == 2) max_active_warp1 = std::max(max_active_warp1, e.at("args").at("lanes").as_number());
      continue;
    }
    const int64_t thread = e.at("tid").as_integer() - 1;
    ASSERT_GE(thread, 0);
    ASSERT_LT(thread, 40);
    EXPECT_EQ(e.at("pid").as_integer(), thread / 32 + 1) << "a lane's track belongs to its warp";
    if (ph == "X") {
      ++runs[thread];
      all_runs.emplace_back(ts, ts + e.at("dur").as_number());
    } else {
      ASSERT_EQ(ph, "i");
      instants[thread].emplace_back(ts, e.at("name").as_string());
    }
  }
  EXPECT_EQ(warp_names, 2);
  EXPECT_EQ(lane_names, 40);
  EXPECT_EQ(max_active_warp1, 8) << "the second warp has 8 lanes";
  ASSERT_EQ(instants.size(), 40u);

  const std::string sync = "__syncthreads()", shfl = "__shfl_down_sync";
  double last_first_arrival = 0, first_first_release = 1e300;
  for (auto& [thread, events] : instants) {
    std::sort(events.begin(), events.end());
    std::vector<std::string> names;
    for (const auto& ev : events) names.push_back(ev.second);
    std::vector<std::string> expected = {"start", "arrive " + sync, "release " + sync};
    if (thread < 16) expected.insert(expected.end(), {"arrive " + shfl, "release " + shfl});
    expected.insert(expected.end(), {"arrive " + sync, "release " + sync, "end"});
    EXPECT_EQ(names, expected) << "thread " << thread;
    // Between parks a thread runs once: one run per release plus the first.
    EXPECT_EQ(runs[thread], thread < 16 ? 4 : 3) << "thread " << thread;
    if (names.size() == expected.size()) {
      last_first_arrival = std::max(last_first_arrival, events[1].first);
      first_first_release = std::min(first_first_release, events[2].first);
    }
  }
  // A barrier: nobody is released before everyone has arrived.
  EXPECT_LT(last_first_arrival, first_first_release);
  // The emulator runs one thread at a time: no two runs overlap.
  std::sort(all_runs.begin(), all_runs.end());
  for (size_t i = 1; i < all_runs.size(); ++i) EXPECT_LE(all_runs[i - 1].second, all_runs[i].first);
}

TEST(SimTrace, RefusesABlockPastTheBound) {
  const std::string path = temp_path("glia_sim_trace_bound");
  glia::sim::TraceRequest request;
  request.path = path;
  request.kernel = "traced_barriers";
  request.max_events = 50;
  glia::sim::set_trace(request);
  SimBuffer<float> out(40);
  glia::sim_test::expect_error([&] { GLIA_LAUNCH(traced_barriers, 1, 40, 0, out.get()); },
                               {"traced_barriers", "more than 50 events", "GLIA_SIM_TRACE_MAX_EVENTS"});
  EXPECT_FALSE(std::filesystem::exists(path));
  glia::sim::clear_trace();
}

}  // namespace
