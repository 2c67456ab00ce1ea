// The emulator's block trace (see trace.h and trace_internal.h).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "kernels/sim/trace_internal.h"

namespace glia::sim {
namespace detail {
namespace {

// 0 off, 1 armed, 2 recording, 3 finished (written or refused)
std::atomic<int> g_state{0};
std::mutex g_mutex;  // guards g_request against set_trace during a claim
TraceRequest g_request;
const Kernel* g_traced = nullptr;
BlockTrace g_trace;

bool same(uint3 a, uint3 b) { return a.x == b.x && a.y == b.y && a.z == b.z; }

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

bool is_active(FiberState s) {
  return s == FiberState::not_started || s == FiberState::ready || s == FiberState::running;
}

}  // namespace

void BlockTrace::begin(const Kernel& k, uint3 block, unsigned num_threads, size_t max_events) {
  kernel_ = k.name;
  block_ = block;
  num_threads_ = num_threads;
  max_events_ = max_events;
  overflowed_ = false;
  tick_ = 0;
  events_.clear();
  run_start_.assign(num_threads, 0);
  parked_at_.assign(num_threads, nullptr);
  last_active_.assign((num_threads + 31) / 32, -1);
  thread_idx_.assign(num_threads, uint3{0, 0, 0});
  unsigned linear = 0;
  for (unsigned z = 0; z < k.block.z; ++z)
    for (unsigned y = 0; y < k.block.y; ++y)
      for (unsigned x = 0; x < k.block.x; ++x) thread_idx_[linear++] = uint3{x, y, z};
}

void BlockTrace::add(Event e) {
  if (events_.size() >= max_events_) {
    overflowed_ = true;
    return;
  }
  events_.push_back(std::move(e));
}

void BlockTrace::count_active(BlockRunner& r, unsigned warp) {
  int active = 0;
  for (unsigned l = 0; l < 32 && warp * 32 + l < num_threads_; ++l)
    active += is_active(r.fiber(warp * 32 + l).state) ? 1 : 0;
  if (active == last_active_[warp]) return;
  last_active_[warp] = active;
  add({'C', warp, 0, tick_, 0, "active lanes", static_cast<unsigned>(active)});
}

void BlockTrace::resumed(BlockRunner& r, const Fiber& f) {
  ++tick_;
  const unsigned warp = f.linear / 32, lane = f.linear % 32;
  const char* op = parked_at_[f.linear];
  if (run_start_[f.linear] == 0 && op == nullptr) {
    add({'i', warp, lane, tick_, 0, "start", 0});
  } else if (op != nullptr) {
    add({'i', warp, lane, tick_, 0, std::string("release ") + op, 0});
  }
  run_start_[f.linear] = tick_;
  count_active(r, warp);
}

void BlockTrace::parked(BlockRunner& r, const Fiber& f) {
  ++tick_;
  const unsigned warp = f.linear / 32, lane = f.linear % 32;
  const bool done = f.state == FiberState::done;
  const char* op = done ? nullptr : f.waiting_op;
  const std::string until = done ? "end" : op != nullptr ? op : "?";
  add({'X', warp, lane, run_start_[f.linear], tick_ - run_start_[f.linear], "run -> " + until, 0});
  add({'i', warp, lane, tick_, 0, done ? std::string("end") : "arrive " + until, 0});
  parked_at_[f.linear] = op;
  count_active(r, warp);
}

void BlockTrace::write(const std::string& path) const {
  GLIA_CHECK(!overflowed_, "sim trace: kernel '" << kernel_ << "', block " << format_index(block_) << " needs more than "
                                                 << max_events_ << " events (GLIA_SIM_TRACE_MAX_EVENTS); trace a "
                                                 << "launch with a smaller block or raise the limit. Nothing was "
                                                 << "written to '" << path << "'");
  std::ofstream out(path);
  GLIA_CHECK(out, "sim trace: cannot open '" << path << "' for writing");
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"kernel\":\"" << json_escape(kernel_) << "\",\"block\":\""
      << format_index(block_) << "\",\"time\":\"emulator steps (one per fiber switch), not wall time\"},\n"
      << "\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&] {
    if (!first) out << ",\n";
    first = false;
  };
  const unsigned warps = (num_threads_ + 31) / 32;
  for (unsigned w = 0; w < warps; ++w) {
    sep();
    out << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" << w + 1 << ",\"args\":{\"name\":\"warp " << w << "\"}}";
    sep();
    out << "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" << w + 1 << ",\"args\":{\"sort_index\":" << w
        << "}}";
  }
  for (unsigned t = 0; t < num_threads_; ++t) {
    sep();
    out << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" << t / 32 + 1 << ",\"tid\":" << t + 1
        << ",\"args\":{\"name\":\"lane " << t % 32 << " thread " << format_index(thread_idx_[t]) << "\"}}";
  }
  for (const Event& e : events_) {
    sep();
    out << "{\"name\":\"" << json_escape(e.name) << "\",\"ph\":\"" << e.ph << "\",\"pid\":" << e.warp + 1
        << ",\"ts\":" << e.ts;
    if (e.ph == 'C') {
      out << ",\"args\":{\"lanes\":" << e.value << "}}";
      continue;
    }
    out << ",\"tid\":" << e.warp * 32 + e.lane + 1;
    if (e.ph == 'X') out << ",\"dur\":" << e.dur;
    if (e.ph == 'i') out << ",\"s\":\"t\"";
    out << "}";
  }
  out << "\n]}\n";
  out.close();
  GLIA_CHECK(out, "sim trace: writing '" << path << "' failed");
}

BlockTrace* claim_trace(const Kernel& k, uint3 block, Schedule schedule) {
  if (g_state.load(std::memory_order_acquire) != 1 || schedule != Schedule::forward) return nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_state.load() != 1 || !same(block, g_request.block)) return nullptr;
  if (!g_request.kernel.empty() && std::strstr(k.name, g_request.kernel.c_str()) == nullptr) return nullptr;
  g_state = 2;
  g_traced = &k;
  g_trace.begin(k, block, k.block.x * k.block.y * k.block.z, g_request.max_events);
  return &g_trace;
}

void finish_trace(const Kernel& k) {
  if (g_state.load(std::memory_order_acquire) != 2 || g_traced != &k) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_state = 3;
  g_traced = nullptr;
  g_trace.write(g_request.path);
}

// An environment-armed trace that no launch matched says so when the program ends, so a
// misspelt kernel name is not mistaken for a missing file.
struct UnmatchedWarning {
  bool from_env = false;
  ~UnmatchedWarning() {
    if (from_env && g_state.load() == 1) {
      std::fprintf(stderr, "glia: GLIA_SIM_TRACE: no sim launch matched kernel '%s', block %s; nothing written to '%s'\n",
                   g_request.kernel.c_str(), format_index(g_request.block).c_str(), g_request.path.c_str());
    }
  }
};
UnmatchedWarning g_unmatched;

void init_trace_from_env() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* path = std::getenv("GLIA_SIM_TRACE");
    if (path == nullptr || *path == '\0') return;
    TraceRequest r;
    r.path = path;
    if (const char* k = std::getenv("GLIA_SIM_TRACE_KERNEL")) r.kernel = k;
    if (const char* b = std::getenv("GLIA_SIM_TRACE_BLOCK")) {
      unsigned v[3] = {0, 0, 0};
      std::istringstream in(b);
      std::string part;
      int i = 0;
      while (std::getline(in, part, ',')) {
        GLIA_CHECK(i < 3 && !part.empty() && part.find_first_not_of("0123456789") == std::string::npos,
                   "GLIA_SIM_TRACE_BLOCK='" << b << "': expected X, X,Y or X,Y,Z (non-negative integers)");
        v[i++] = static_cast<unsigned>(std::stoul(part));
      }
      r.block = uint3{v[0], v[1], v[2]};
    }
    if (const char* m = std::getenv("GLIA_SIM_TRACE_MAX_EVENTS")) {
      const std::string s = m;
      GLIA_CHECK(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && std::stoull(s) > 0,
                 "GLIA_SIM_TRACE_MAX_EVENTS='" << s << "': expected a positive integer");
      r.max_events = static_cast<size_t>(std::stoull(s));
    }
    set_trace(r);
    g_unmatched.from_env = true;
  });
}

}  // namespace detail

void set_trace(const TraceRequest& request) {
  GLIA_CHECK(!request.path.empty(), "sim::set_trace: the trace needs a file path");
  GLIA_CHECK(request.max_events > 0, "sim::set_trace: max_events must be positive");
  std::lock_guard<std::mutex> lock(detail::g_mutex);
  detail::g_request = request;
  detail::g_traced = nullptr;
  detail::g_state = 1;
}

void clear_trace() {
  std::lock_guard<std::mutex> lock(detail::g_mutex);
  detail::g_state = 0;
  detail::g_traced = nullptr;
}

bool trace_written() { return detail::g_state.load() == 3; }

}  // namespace glia::sim
