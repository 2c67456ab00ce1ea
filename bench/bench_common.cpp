// Machine description and ceilings for every benchmark binary (see bench_common.h).
#include "bench/bench_common.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernels/ceilings.h"
#include "kernels/runtime.h"
#ifdef GLIA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace glia::bench {
namespace {

// First line of a command's output, "" when it fails (no git, no nvidia-smi).
std::string command_line(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>/dev/null").c_str(), "r"), pclose);
  if (!pipe) return "";
  std::array<char, 256> buf{};
  std::string out;
  if (fgets(buf.data(), static_cast<int>(buf.size()), pipe.get())) out = buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(std::min(colon + 2, line.size()));
    }
  }
  return "unknown";
}

#ifdef GLIA_HAVE_CUDA
void add_gpu_context() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    benchmark::AddCustomContext("gpu", "none");
    return;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return;
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  benchmark::AddCustomContext("gpu", prop.name);
  benchmark::AddCustomContext("gpu_sm", std::to_string(prop.major) + "." + std::to_string(prop.minor));
  benchmark::AddCustomContext("gpu_count", std::to_string(count));
  const std::string smi = command_line("nvidia-smi --query-gpu=driver_version --format=csv,noheader");
  benchmark::AddCustomContext("gpu_driver", smi.empty() ? std::to_string(driver) : smi);
  benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime));
  const Ceilings& c = ceilings(Device::cuda);
  benchmark::AddCustomContext("gpu_peak_gflops", std::to_string(c.peak_gflops));
  benchmark::AddCustomContext("gpu_bandwidth_gbs", std::to_string(c.stream_gbs));
}
#endif

std::string glia_commit() {
  if (const char* env = std::getenv("GLIA_COMMIT")) return env;
  const std::string git = std::string("git -C '") + GLIA_SOURCE_DIR + "' ";
  std::string commit = command_line(git + "rev-parse --short=12 HEAD");
  if (commit.empty()) return "unknown";
  if (!command_line(git + "status --porcelain --untracked-files=no").empty()) commit += "+dirty";
  return commit;
}

std::string format(double v) {
  std::ostringstream os;
  os.precision(4);
  os << v;
  return os.str();
}

// Runs before main(): the context is printed with the first report.
const bool context_added = [] {
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("cpu_cores", std::to_string(std::thread::hardware_concurrency()));
  benchmark::AddCustomContext("cpu_threads", std::to_string(cpu_threads()));
  benchmark::AddCustomContext("cpu_fma_isa", kernels::fma_isa());
  benchmark::AddCustomContext("glia_commit", glia_commit());
  const Ceilings& c = ceilings(Device::cpu);
  benchmark::AddCustomContext("cpu_peak_gflops", format(c.peak_gflops));
  benchmark::AddCustomContext("cpu_stream_gbs", format(c.stream_gbs));
  if (const char* note = std::getenv("GLIA_BENCH_NOTE")) benchmark::AddCustomContext("note", note);
  benchmark::AddCustomContext("loadavg", command_line("cat /proc/loadavg"));
#ifdef GLIA_HAVE_CUDA
  add_gpu_context();
#endif
  return true;
}();

}  // namespace

int cpu_threads() { return omp_get_max_threads(); }

const Ceilings& ceilings(Device device) { return kernels::ceilings(device); }

void set_throughput(benchmark::State& state, double flops_per_iteration, double bytes_per_iteration,
                    Device device) {
  const double iterations = static_cast<double>(state.iterations());
  const Ceilings& c = ceilings(device);
  if (flops_per_iteration > 0) {
    state.counters["GFLOP/s"] = benchmark::Counter(1e-9 * flops_per_iteration * iterations, benchmark::Counter::kIsRate);
    if (c.peak_gflops > 0)
      state.counters["flop_frac"] =
          benchmark::Counter(1e-9 * flops_per_iteration * iterations / c.peak_gflops, benchmark::Counter::kIsRate);
  }
  if (bytes_per_iteration > 0) {
    state.counters["GB/s"] = benchmark::Counter(1e-9 * bytes_per_iteration * iterations, benchmark::Counter::kIsRate);
    if (c.stream_gbs > 0)
      state.counters["bw_frac"] =
          benchmark::Counter(1e-9 * bytes_per_iteration * iterations / c.stream_gbs, benchmark::Counter::kIsRate);
  }
}

void set_images_per_second(benchmark::State& state, double images_per_iteration) {
  state.counters["images/s"] =
      benchmark::Counter(images_per_iteration * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

bool skip_if_unavailable(benchmark::State& state, Device device) {
  if (device_available(device)) return false;
  state.SkipWithError((std::string("device '") + device_name(device) + "' is not available here").c_str());
  return true;
}

void run_steps(benchmark::State& state, Device device, int64_t batch, double flops_per_step,
               const std::function<void()>& step) {
  step();
  rt::synchronize(device);
  for (auto _ : state) {
    step();
    rt::synchronize(device);
  }
  set_images_per_second(state, static_cast<double>(batch));
  set_throughput(state, flops_per_step, 0, device);
}

}  // namespace glia::bench
