// Grid launch for the SIMT emulator: validation, the worker pool, settings (launch.h).
//
// Blocks are handed out from an atomic counter to a pool of worker threads (the calling
// thread works too). A worker runs one block at a time to completion, so `__shared__`
// (a thread_local) is private to the block. The first fault stops the handing out; the
// grid drains and the fault is rethrown on the calling thread.
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "kernels/sim/block.h"
#include "kernels/sim/trace_internal.h"
#include "kernels/sim/checked.h"

namespace glia::sim {
namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && v[0] != '0';
}

int default_threads() {
  if (const char* env = std::getenv("GLIA_SIM_THREADS")) {
    int n = std::atoi(env);
    GLIA_CHECK(n >= 1 && n <= 1024, "GLIA_SIM_THREADS=" << env << ": expected a number of worker threads from 1 to 1024");
    return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

uint64_t default_seed() {
  const char* env = std::getenv("GLIA_SIM_SEED");
  if (env == nullptr || env[0] == '\0') return 1;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(env, &end, 0);
  GLIA_CHECK(errno == 0 && end != env && *end == '\0' && env[0] != '-',
             "GLIA_SIM_SEED=" << env << ": expected an unsigned integer (the seed of checked mode's random schedule)");
  return v;
}

std::atomic<bool> g_checked{env_flag("GLIA_SIM_CHECK")};
std::atomic<bool> g_seed_chosen{false};
std::atomic<uint64_t> g_seed{0};
std::atomic<bool> g_check_races{true};
std::atomic<size_t> g_shared_limit{48 * 1024};
std::atomic<int> g_threads{0};  // 0: not decided yet
std::atomic<size_t> g_launches{0}, g_blocks{0}, g_threads_run{0}, g_switches{0};

// Persistent workers. One grid at a time (launches are serialised by g_launch_mutex).
class Pool {
 public:
  explicit Pool(int num_threads) {
    for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { work_loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  size_t size() const { return workers_.size() + 1; }

  std::exception_ptr run(const detail::Kernel& kernel, size_t num_blocks) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      kernel_ = &kernel;
      num_blocks_ = num_blocks;
      next_block_ = 0;
      stop_ = false;
      error_ = nullptr;
      busy_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    run_blocks();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    kernel_ = nullptr;
    return error_;
  }

 private:
  void run_blocks() {
    if (g_checked.load()) detail::prepare_thread_for_faults();
    detail::BlockRunner& runner = detail::runner();
    size_t switches_before = runner.switches;
    while (!stop_.load(std::memory_order_relaxed)) {
      size_t b = next_block_.fetch_add(1);
      if (b >= num_blocks_) break;
      std::exception_ptr e = runner.run(*kernel_, detail::block_index(*kernel_, b), detail::Schedule::forward);
      if (e) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = e;
        stop_ = true;
      }
    }
    g_switches += runner.switches - switches_before;
  }

  void work_loop() {
    size_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return shutdown_ || generation_ != seen; });
        if (shutdown_) return;
        seen = generation_;
      }
      run_blocks();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool shutdown_ = false;
  size_t generation_ = 0;
  size_t busy_ = 0;
  const detail::Kernel* kernel_ = nullptr;
  size_t num_blocks_ = 0;
  std::atomic<size_t> next_block_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

std::mutex g_launch_mutex;
std::unique_ptr<Pool> g_pool;  // guarded by g_launch_mutex

void validate(const char* name, dim3 grid, dim3 block, size_t shared_bytes) {
  unsigned long long threads = 1ull * block.x * block.y * block.z;
  GLIA_CHECK(threads >= 1 && threads <= 1024 && block.x <= 1024 && block.y <= 1024 && block.z <= 64,
             "sim: kernel '" << name << "' launched with a block of " << block.x << "x" << block.y << "x" << block.z
                             << " threads: a block holds 1 to 1024 threads (x, y <= 1024, z <= 64)");
  GLIA_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 2147483647u && grid.y <= 65535 && grid.z <= 65535,
             "sim: kernel '" << name << "' launched with a grid of " << grid.x << "x" << grid.y << "x" << grid.z
                             << " blocks: each dimension must be at least 1 (x < 2^31, y and z <= 65535)");
  GLIA_CHECK(shared_bytes <= g_shared_limit.load(),
             "sim: kernel '" << name << "' launched with " << shared_bytes
                             << " bytes of dynamic shared memory, over the limit of " << g_shared_limit.load()
                             << " bytes (sim::set_shared_memory_limit)");
}

}  // namespace

namespace detail {

uint3 block_index(const Kernel& k, size_t linear) {
  auto x = static_cast<unsigned>(linear % k.grid.x);
  linear /= k.grid.x;
  auto y = static_cast<unsigned>(linear % k.grid.y);
  return uint3{x, y, static_cast<unsigned>(linear / k.grid.y)};
}

void launch_grid(const char* name, dim3 grid, dim3 block, size_t shared_bytes, Body body, const void* closure,
                 const void* entry) {
  validate(name, grid, block, shared_bytes);
  GLIA_CHECK(active_runner() == nullptr,
             "sim: kernel '" << name << "' launched from inside kernel '" << active_runner()->kernel->name
                             << "': dynamic parallelism is not emulated");
  Kernel kernel{name, grid, block, shared_bytes, body, closure, entry};
  size_t num_blocks = static_cast<size_t>(grid.x) * grid.y * grid.z;

  std::lock_guard<std::mutex> lock(g_launch_mutex);
  // A fresh wmma element-to-lane mapping for every launch, repeatable from the seed.
  kernel.layout_seed = schedule_seed() * 0x9e3779b97f4a7c15ull + g_launches.load() + 1;
  init_trace_from_env();
  std::exception_ptr error;
  if (checked() && check_races()) {
    prepare_thread_for_faults();
    BlockRunner& r = runner();
    size_t before = r.switches;
    error = run_blocks_race_checked(kernel, num_blocks);
    g_switches += r.switches - before;
  } else {
    int n = num_threads();
    if (!g_pool || static_cast<int>(g_pool->size()) != n) {
      g_pool.reset();
      g_pool = std::make_unique<Pool>(n);
    }
    error = g_pool->run(kernel, num_blocks);
  }
  ++g_launches;
  g_blocks += num_blocks;
  g_threads_run += num_blocks * block.x * block.y * block.z;
  if (error) {
    try {
      finish_trace(kernel);  // a failed block's trace shows where its threads stopped
    } catch (const Error&) {  // the kernel's own error is the one to report
    }
    std::rethrow_exception(error);
  }
  finish_trace(kernel);
  if (checked()) check_canaries(name);
}

}  // namespace detail

void set_checked(bool on) { g_checked = on; }
bool checked() { return g_checked.load(); }
void set_check_races(bool on) { g_check_races = on; }
bool check_races() { return g_check_races.load(); }
void set_schedule_seed(uint64_t seed) {
  g_seed = seed;
  g_seed_chosen = true;
}
uint64_t schedule_seed() {
  if (!g_seed_chosen.load()) set_schedule_seed(default_seed());
  return g_seed.load();
}

void set_shared_memory_limit(size_t bytes) { g_shared_limit = bytes; }
size_t shared_memory_limit() { return g_shared_limit.load(); }

void set_num_threads(int n) {
  GLIA_CHECK(n >= 1 && n <= 1024, "sim::set_num_threads(" << n << "): expected 1 to 1024 worker threads");
  g_threads = n;
}
int num_threads() {
  int n = g_threads.load();
  if (n == 0) {
    n = default_threads();
    g_threads = n;
  }
  return n;
}

Stats stats() {
  Stats s;
  s.launches = g_launches.load();
  s.blocks = g_blocks.load();
  s.threads = g_threads_run.load();
  s.context_switches = g_switches.load();
  return s;
}

}  // namespace glia::sim
