// The profiler's recorder (see profile.h): one recording at a time, on one thread.
#include "kernels/profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <tuple>
#include <unordered_map>

#include "kernels/error.h"
#include "kernels/profile_timeline.h"
#include "kernels/runtime.h"
#ifdef GLIA_HAVE_CUDA
#include "kernels/cuda/cuda_runtime_wrappers.h"
#if __has_include(<nvtx3/nvToolsExt.h>)
#include <nvtx3/nvToolsExt.h>
#define GLIA_HAVE_NVTX 1
#endif
#endif

namespace glia::prof {
namespace {

class HostTimeline : public Timeline {
 public:
  explicit HostTimeline(Device device) : device_(device) {}
  void begin() override {
    rt::synchronize(device_);  // earlier work must not land in the first span
    t0_ = std::chrono::steady_clock::now();
  }
  int mark() override {
    times_.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0_).count());
    return static_cast<int>(times_.size()) - 1;
  }
  void finish() override {}
  double at_us(int mark) override { return times_[static_cast<size_t>(mark)]; }

 private:
  Device device_;
  std::chrono::steady_clock::time_point t0_;
  std::vector<double> times_;
};

#ifdef GLIA_HAVE_CUDA
// One timing event per mark, recorded on the current stream; pooled across recordings
// (event creation costs more than a record).
class CudaTimeline : public Timeline {
 public:
  void begin() override {
    cuda_rt::synchronize();
    origin_ = mark();
  }
  int mark() override {
    std::vector<void*>& pool = events();
    if (used_ == pool.size()) pool.push_back(cuda_rt::create_event());
    cuda_rt::record_event(pool[used_], nullptr);
    return static_cast<int>(used_++);
  }
  void finish() override { cuda_rt::synchronize(); }
  double at_us(int mark) override {
    std::vector<void*>& pool = events();
    return 1e3 * cuda_rt::elapsed_ms(pool[static_cast<size_t>(origin_)], pool[static_cast<size_t>(mark)]);
  }

 private:
  static std::vector<void*>& events() {
    static auto* pool = new std::vector<void*>();  // never destroyed: the runtime may be gone at exit
    return *pool;
  }
  size_t used_ = 0;
  int origin_ = 0;
};
#endif

struct Recording {
  Device device = Device::cpu;
  std::unique_ptr<Timeline> timeline;
  std::vector<Span> spans;
  std::vector<int> stack;  // open spans, innermost last
  std::vector<std::string> layer_names;
  std::unordered_map<std::string, int> layer_ids;
  int backward_span = -1, backward_layer = -1;
  std::vector<std::pair<int, int>> span_marks;  // each span's (begin, end) marks, resolved in stop()
};
Recording g;

const std::string* innermost(Kind kind) {
  for (auto it = g.stack.rbegin(); it != g.stack.rend(); ++it)
    if (g.spans[static_cast<size_t>(*it)].kind == kind) return &g.spans[static_cast<size_t>(*it)].name;
  return nullptr;
}

}  // namespace

std::unique_ptr<Timeline> host_timeline(Device device) { return std::make_unique<HostTimeline>(device); }

std::unique_ptr<Timeline> device_timeline(Device device) {
#ifdef GLIA_HAVE_CUDA
  if (device == Device::cuda) return std::make_unique<CudaTimeline>();
#endif
  return host_timeline(device);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::step: return "step";
    case Kind::pass: return "pass";
    case Kind::layer: return "layer";
    case Kind::op: return "op";
  }
  return "?";
}

void start(Device device) { start_with(device, device_timeline(device)); }

void start_with(Device device, std::unique_ptr<Timeline> timeline) {
  GLIA_CHECK(!detail::t_on, "profiler: a recording is already on");
  GLIA_CHECK(timeline != nullptr, "profiler: no timeline");
  g = Recording{};
  g.device = device;
  g.timeline = std::move(timeline);
  g.spans.reserve(4096);
  g.timeline->begin();
  detail::t_on = true;
}

std::vector<Span> stop() {
  if (!detail::t_on) return {};
  leave_layer();
  while (!g.stack.empty()) close(g.stack.back());
  detail::t_on = false;
  g.timeline->finish();  // the one wait of the recording
  for (size_t i = 0; i < g.spans.size(); ++i) {
    const auto [b, e] = g.span_marks[i];
    const double begin = g.timeline->at_us(b), end = g.timeline->at_us(e);
    g.spans[i].start_us = begin;
    g.spans[i].dur_us = end - begin;
  }
  g.timeline.reset();
  return std::move(g.spans);
}

int open(Kind kind, const std::string& name, const kernels::OpCost& cost) {
  if (!detail::t_on) return -1;
  Span s;
  s.kind = kind;
  s.name = name;
  s.parent = g.stack.empty() ? -1 : g.stack.back();
  s.flops = cost.flops;
  s.bytes = cost.bytes;
  if (kind == Kind::op || kind == Kind::layer) {
    if (const std::string* pass = innermost(Kind::pass)) s.pass = *pass;
  }
  if (kind == Kind::op) {
    if (const std::string* layer = innermost(Kind::layer)) s.layer = *layer;
  }
  const int index = static_cast<int>(g.spans.size());
  g.span_marks.emplace_back(g.timeline->mark(), -1);
  g.spans.push_back(std::move(s));
  g.stack.push_back(index);
  return index;
}

void close(int index) {
  if (index < 0 || !detail::t_on) return;
  const int mark = g.timeline->mark();
  // Spans close innermost first; one left open by an exception closes with its parent.
  while (!g.stack.empty()) {
    const int top = g.stack.back();
    g.stack.pop_back();
    g.span_marks[static_cast<size_t>(top)].second = mark;
    if (top == index) break;
  }
}

namespace {
int layer_id(const std::string& name) {
  auto [it, added] = g.layer_ids.emplace(name, static_cast<int>(g.layer_names.size()));
  if (added) g.layer_names.push_back(name);
  return it->second;
}
}  // namespace

int current_layer() {
  if (!detail::t_on) return -1;
  const std::string* layer = innermost(Kind::layer);
  return layer == nullptr ? -1 : layer_id(*layer);
}

int autograd_layer() { return detail::t_on ? layer_id(kAutogradLayer) : -1; }

void enter_layer(int id) {
  if (!detail::t_on || id == g.backward_layer) return;
  leave_layer();
  if (id < 0 || id >= static_cast<int>(g.layer_names.size())) return;
  g.backward_span = open(Kind::layer, g.layer_names[static_cast<size_t>(id)]);
  g.backward_layer = id;
}

void leave_layer() {
  if (g.backward_span >= 0) close(g.backward_span);
  g.backward_span = -1;
  g.backward_layer = -1;
}

void nvtx_push(const char* name) {
#ifdef GLIA_HAVE_NVTX
  nvtxRangePushA(name);
#else
  (void)name;
#endif
}

void nvtx_pop() {
#ifdef GLIA_HAVE_NVTX
  nvtxRangePop();
#endif
}

std::vector<Row> aggregate(const std::vector<Span>& spans) {
  // The time each step and pass spends in its nearest ops and passes (layers are
  // transparent: they hold no time of their own).
  std::vector<double> covered(spans.size(), 0.0);
  std::vector<bool> nested_op(spans.size(), false);
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].kind != Kind::op && spans[i].kind != Kind::pass) continue;
    int j = spans[i].parent;
    while (j >= 0 && spans[static_cast<size_t>(j)].kind == Kind::layer) j = spans[static_cast<size_t>(j)].parent;
    if (j < 0) continue;
    const Kind k = spans[static_cast<size_t>(j)].kind;
    if (k == Kind::op) nested_op[i] = true;  // its time is its enclosing op's
    else covered[static_cast<size_t>(j)] += spans[i].dur_us;
  }
  std::map<std::tuple<std::string, std::string, std::string>, Row> rows;
  auto add = [&](const std::string& op, const std::string& layer, const std::string& pass, double us, double flops,
                 double bytes) {
    Row& r = rows[{op, layer, pass}];
    r.op = op, r.layer = layer, r.pass = pass;
    ++r.calls;
    r.total_us += us, r.flops += flops, r.bytes += bytes;
  };
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& s = spans[i];
    if (s.kind == Kind::op && !nested_op[i]) add(s.name, s.layer, s.pass, s.dur_us, s.flops, s.bytes);
    if (s.kind == Kind::pass) add("(outside kernels)", "", s.name, std::max(0.0, s.dur_us - covered[i]), 0, 0);
    if (s.kind == Kind::step) add("(outside passes)", "", "", std::max(0.0, s.dur_us - covered[i]), 0, 0);
  }
  std::vector<Row> out;
  out.reserve(rows.size());
  for (auto& kv : rows) out.push_back(std::move(kv.second));
  std::stable_sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.total_us > b.total_us; });
  return out;
}

namespace {
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}
}  // namespace

void write_chrome_trace(const std::string& path, const std::vector<Span>& spans) {
  std::ofstream out(path);
  GLIA_CHECK(out, "profile trace: cannot open '" << path << "' for writing");
  out.precision(15);
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  out << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"glia\"}}";
  for (const Span& s : spans) {
    out << ",\n{\"name\":" << json_string(s.name)
        << ",\"cat\":\"" << kind_name(s.kind) << "\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":" << s.start_us
        << ",\"dur\":" << s.dur_us;
    if (s.kind == Kind::op) {
      out << ",\"args\":{\"layer\":" << json_string(s.layer) << ",\"pass\":" << json_string(s.pass)
          << ",\"flops\":" << s.flops << ",\"bytes\":" << s.bytes << "}";
    }
    out << "}";
  }
  out << "\n]}\n";
  out.close();
  GLIA_CHECK(out, "profile trace: writing '" << path << "' failed");
}

}  // namespace glia::prof
