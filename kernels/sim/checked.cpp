// Checked mode: guarded sim buffers with a fault handler (out-of-bounds accesses), and
// running each block in three thread orders (races). See launch.h and memory.h.
#include "kernels/sim/checked.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "kernels/sim/memory.h"
#include "kernels/sim/shared_memory.h"
#include "kernels/sim/thread_state.h"

#if defined(__SANITIZE_ADDRESS__)
#define GLIA_SIM_ASAN 1
#include <sanitizer/asan_interface.h>
#endif

namespace glia::sim {
namespace {

// Buffers start on a 256-byte boundary, as cudaMalloc's do (vectorised paths check it).
constexpr size_t kAlignment = 256;
// The canary word around a buffer: a quiet NaN as a float (and a huge integer), so a read
// past the end that stays before the guard page at least yields garbage that shows.
constexpr uint32_t kCanaryWord = 0x7fe5a5a5u;

unsigned char canary_byte(const char* p) {
  return static_cast<unsigned char>(kCanaryWord >> (8 * (reinterpret_cast<uintptr_t>(p) % 4)));
}

struct Guarded {
  char* map_base;    // first guard page
  size_t map_bytes;  // guard + data pages + guard
  char* data_begin;  // first data page
  char* data_end;    // end of the data pages (the trailing guard page starts here)
  char* user;        // what alloc returned
  size_t bytes;
};

size_t page() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::mutex g_registry_mutex;
std::map<uintptr_t, Guarded> g_registry;  // by user address
std::atomic<size_t> g_registry_size{0};

// The guarded buffer whose guard pages or data contain `addr`, if any.
const Guarded* find_near(uintptr_t addr) {
  for (auto& [key, g] : g_registry) {
    (void)key;
    auto lo = reinterpret_cast<uintptr_t>(g.map_base), hi = lo + g.map_bytes;
    if (addr >= lo && addr < hi) return &g;
  }
  return nullptr;
}

}  // namespace

void* guarded_alloc(size_t bytes) {
  size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  size_t data_pages = (rounded + page() - 1) / page();
  size_t map_bytes = (data_pages + 2) * page();
  void* p = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  GLIA_CHECK(p != MAP_FAILED, "sim checked mode: could not map " << map_bytes << " bytes for a guarded " << bytes
                                                                 << "-byte buffer: " << std::strerror(errno));
  Guarded g;
  g.map_base = static_cast<char*>(p);
  g.map_bytes = map_bytes;
  g.data_begin = g.map_base + page();
  g.data_end = g.data_begin + data_pages * page();
  // The buffer starts 256-byte aligned as close to the guard page as that allows: a size
  // that is a multiple of 256 ends exactly at it; otherwise the last (256 - size % 256)
  // bytes before it are canary, checked after every launch.
  g.user = g.data_end - rounded;
  g.bytes = bytes;
  mprotect(g.map_base, page(), PROT_NONE);
  mprotect(g.data_end, page(), PROT_NONE);
  detail::poison_bytes(g.data_begin, static_cast<size_t>(g.user - g.data_begin), kCanaryWord);
  detail::poison_bytes(g.user + bytes, static_cast<size_t>(g.data_end - (g.user + bytes)), kCanaryWord);
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  g_registry[reinterpret_cast<uintptr_t>(g.user)] = g;
  ++g_registry_size;
  return g.user;
}

bool guarded_release(void* ptr) {
  if (g_registry_size.load() == 0) return false;
  Guarded g;
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    auto it = g_registry.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == g_registry.end()) return false;
    g = it->second;
    g_registry.erase(it);
    --g_registry_size;
  }
  munmap(g.map_base, g.map_bytes);
  return true;
}

size_t guarded_count() { return g_registry_size.load(); }

namespace detail {
namespace {

struct FaultRecord {
  int signal = 0;
  uintptr_t address = 0;
};
thread_local FaultRecord t_fault;

std::string describe_address(uintptr_t addr, const Stack& stack) {
  std::ostringstream m;
  m << "invalid memory access at 0x" << std::hex << addr << std::dec;
  auto stack_lo = reinterpret_cast<uintptr_t>(stack.base);
  if (addr < stack_lo && addr + page() >= stack_lo) {
    m << ": overflow of the thread's " << stack.size / 1024 << " KiB fiber stack (raise GLIA_SIM_STACK_KB)";
    return m.str();
  }
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  const Guarded* g = find_near(addr);
  auto user = g ? reinterpret_cast<uintptr_t>(g->user) : 0;
  if (g == nullptr) {
    m << ", not next to any sim buffer allocated in checked mode (a wild or null pointer?)";
  } else if (addr >= user + g->bytes) {
    m << ": byte " << addr - user << " of a " << g->bytes << "-byte sim buffer at 0x" << std::hex << user
      << " (past its end: out-of-bounds access)";
  } else {
    m << ": " << user - addr << " bytes before the start of a " << g->bytes << "-byte sim buffer at 0x" << std::hex
      << user << " (out-of-bounds access)";
  }
  return m.str();
}

// Where the signal handler sends a faulting fiber: a fresh frame at the top of the
// fiber's own stack (its kernel frames are abandoned, never unwound).
__attribute__((noinline)) void record_fault() {
  BlockRunner& r = runner();
  Fiber& f = *r.current;
  r.error = std::make_exception_ptr(
      Fault("sim: " + r.where(f) + ": " + describe_address(t_fault.address, f.stack) + " (checked mode)"));
  f.abandoned = true;
  f.state = FiberState::done;
  --r.live;
  ++r.exited;
}

// The fiber's abandoned frames may have left ASan redzones poisoned where fault_exit's
// frames now go: clear the shadow of the whole fiber stack first.
__attribute__((noinline)) void forget_abandoned_frames() {
#ifdef GLIA_SIM_ASAN
  const Stack& s = runner().current->stack;
  __asan_unpoison_memory_region(s.base, s.size);
#endif
}

#ifdef GLIA_SIM_ASAN
__attribute__((no_sanitize_address))
#endif
[[noreturn]] void fault_exit() {
  forget_abandoned_frames();
  record_fault();
  BlockRunner& r = runner();
  exit_fiber(r.host, r.current->ctx);
}

struct sigaction g_previous_segv, g_previous_bus;
std::once_flag g_handler_once;

void chain(int sig, siginfo_t* info, void* context) {
  const struct sigaction& prev = sig == SIGSEGV ? g_previous_segv : g_previous_bus;
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, context);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
  } else {
    signal(sig, SIG_DFL);  // returning re-executes the access and takes the default action
  }
}

void on_fault(int sig, siginfo_t* info, void* context) {
  BlockRunner* r = active_runner();
#if defined(__x86_64__) && defined(__linux__)
  if (r != nullptr && r->current != nullptr && r->current->stack.base != nullptr) {
    t_fault.signal = sig;
    t_fault.address = reinterpret_cast<uintptr_t>(info->si_addr);
    const Stack& s = r->current->stack;
    auto top = reinterpret_cast<uintptr_t>(s.base + s.size) & ~uintptr_t{15};
    auto* uc = static_cast<ucontext_t*>(context);
    // As if fault_exit had been called: rsp % 16 == 8 at its first instruction.
    uc->uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(top - 8);
    *reinterpret_cast<uintptr_t*>(top - 8) = 0;
    uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(&fault_exit);
    return;
  }
#else
  (void)r;
#endif
  chain(sig, info, context);
}

// Per-thread stack for the handler: a fiber's stack overflow leaves no room on it.
struct AltStack {
  std::vector<char> memory;
  bool installed = false;
  ~AltStack() {
    if (!installed) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
  }
};
thread_local AltStack t_alt_stack;

}  // namespace

void prepare_thread_for_faults() {
  std::call_once(g_handler_once, [] {
    struct sigaction action {};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &g_previous_segv);
    sigaction(SIGBUS, &action, &g_previous_bus);
  });
  if (t_alt_stack.installed) return;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;  // someone's (e.g. ASan's)
  t_alt_stack.memory.resize(std::max<size_t>(SIGSTKSZ, 64 * 1024));
  stack_t alt{};
  alt.ss_sp = t_alt_stack.memory.data();
  alt.ss_size = t_alt_stack.memory.size();
  if (sigaltstack(&alt, nullptr) == 0) t_alt_stack.installed = true;
}

void check_canaries(const char* kernel_name) {
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  for (auto& [key, g] : g_registry) {
    (void)key;
    for (char* p = g.data_begin; p < g.data_end; ++p) {
      if (p == g.user) p += g.bytes;
      if (p >= g.data_end) break;
      if (static_cast<unsigned char>(*p) == canary_byte(p)) continue;
      std::ostringstream m;
      bool before = p < g.user;
      m << "sim: kernel '" << kernel_name << "' wrote ";
      if (before) {
        m << g.user - p << " bytes before the start of a " << g.bytes << "-byte sim buffer";
      } else {
        m << "byte " << p - g.user << " of a " << g.bytes << "-byte sim buffer (past its end)";
      }
      m << " at " << static_cast<void*>(g.user)
        << ": out-of-bounds write, found after the launch, so the thread is unknown (checked mode)";
      detail::poison_bytes(g.data_begin, static_cast<size_t>(g.user - g.data_begin), kCanaryWord);
      detail::poison_bytes(g.user + g.bytes, static_cast<size_t>(g.data_end - (g.user + g.bytes)), kCanaryWord);
      throw Fault(m.str());
    }
  }
}

namespace {

struct Snapshot {
  std::vector<std::pair<char*, size_t>> regions;
  std::vector<char> bytes;

  void take() {
    size_t at = 0;
    for (auto& [p, n] : regions) {
      std::memcpy(bytes.data() + at, p, n);
      at += n;
    }
  }
  void restore() const {
    size_t at = 0;
    for (auto& [p, n] : regions) {
      std::memcpy(p, bytes.data() + at, n);
      at += n;
    }
  }
};

bool words_agree(float a, float b, bool tolerant) {
  if (std::memcmp(&a, &b, sizeof a) == 0) return true;
  if (!tolerant || !std::isfinite(a) || !std::isfinite(b)) return false;
  return std::fabs(a - b) <= 1e-4f * std::max(std::fabs(a), std::fabs(b));
}

// Why two results of one block differ, for the report.
std::string explain_words(uint32_t first, uint32_t second, Schedule other) {
  std::ostringstream m;
  m << std::hex;
  if (first == kSharedPoison[0] && second == kSharedPoison[static_cast<int>(other)]) {
    m << ": the block wrote shared memory's poison (0x" << first << " forward, 0x" << second << " " << schedule_name(other)
      << "): it reads __shared__ memory that no thread of the block wrote";
  } else {
    m << ": two threads touch the same shared or global word between two barriers, at least one writing, or the "
      << "block reads shared memory no thread wrote";
  }
  return m.str();
}

// The first word where the memory now (the `other` schedule's result) differs from `forward`.
std::exception_ptr compare(const Kernel& k, uint3 idx, const Snapshot& forward, Schedule other, uint64_t seed) {
  bool tolerant = t_atomics_used;
  size_t at = 0;
  std::string which = std::string(schedule_name(other)) + " order";
  if (other == Schedule::random) {
    std::ostringstream s;
    s << "random order (GLIA_SIM_SEED=" << seed << ")";
    which = s.str();
  }
  for (auto& [p, n] : forward.regions) {
    const char* fwd = forward.bytes.data() + at;
    at += n;
    if (std::memcmp(fwd, p, n) == 0) continue;
    for (size_t i = 0; i + 4 <= n; i += 4) {
      float a, c;
      std::memcpy(&a, fwd + i, 4);
      std::memcpy(&c, p + i, 4);
      if (words_agree(a, c, tolerant)) continue;
      uint32_t ia, ic;
      std::memcpy(&ia, &a, 4);
      std::memcpy(&ic, &c, 4);
      std::ostringstream m;
      m << "sim: kernel '" << k.name << "', block " << format_index(idx)
        << ": race between threads of the block (checked mode): the block's result differs when its threads run in "
        << which << " instead of forward order, first at byte " << i << " of a " << n << "-byte sim buffer at "
        << static_cast<void*>(p) << " (forward order wrote " << a << " / 0x" << std::hex << ia << ", " << which << " 0x"
        << ic << std::dec << " / " << c << ")" << explain_words(ia, ic, other);
      return std::make_exception_ptr(Fault(m.str()));
    }
    if (!tolerant && n % 4 != 0) {
      return std::make_exception_ptr(Fault("sim: kernel '" + std::string(k.name) + "', block " + format_index(idx) +
                                           ": race between threads of the block (checked mode): the last bytes of a " +
                                           std::to_string(n) + "-byte sim buffer differ between the forward and the " +
                                           which));
    }
  }
  return nullptr;
}

}  // namespace

std::exception_ptr run_blocks_race_checked(const Kernel& k, size_t num_blocks) {
  Snapshot start, forward;
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    for (auto& [key, g] : g_registry) {
      (void)key;
      start.regions.emplace_back(g.user, g.bytes);
    }
  }
  forward.regions = start.regions;
  size_t total = 0;
  for (auto& region : start.regions) total += region.second;
  start.bytes.resize(total);
  forward.bytes.resize(total);

  BlockRunner& r = runner();
  const uint64_t seed = schedule_seed();
  for (size_t b = 0; b < num_blocks; ++b) {
    uint3 idx = block_index(k, b);
    start.take();
    t_atomics_used = false;
    if (auto e = r.run(k, idx, Schedule::forward)) return e;
    forward.take();
    for (Schedule other : {Schedule::reverse, Schedule::random}) {
      start.restore();
      // Each block its own permutations, the same ones in every launch with this seed.
      if (auto e = r.run(k, idx, other, seed ^ (0x9e3779b97f4a7c15ull * (b + 1)))) return e;
      if (auto e = compare(k, idx, forward, other, seed)) return e;
    }
  }
  return nullptr;
}

}  // namespace detail
}  // namespace glia::sim
