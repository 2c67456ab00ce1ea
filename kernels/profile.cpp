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

struct Recording {
  Device device = Device::cpu;
  std::chrono::steady_clock::time_point t0;
  std::vector<Span> spans;
  std::vector<int> stack;  // open spans, innermost last
  std::vector<std::string> layer_names;
  std::unordered_map<std::string, int> layer_ids;
  int backward_span = -1, backward_layer = -1;
  // cuda: one event per span end (begin, end), resolved in stop()
  std::vector<std::pair<int, int>> span_events;
  std::vector<void*> events;  // pooled across recordings
  int events_used = 0;
};
Recording g;

double host_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - g.t0).count();
}

// cuda: records the next pooled event on the current stream and returns its index.
int mark_event() {
#ifdef GLIA_HAVE_CUDA
  if (g.device == Device::cuda) {
    if (g.events_used == static_cast<int>(g.events.size())) g.events.push_back(cuda_rt::create_event());
    cuda_rt::record_event(g.events[static_cast<size_t>(g.events_used)], nullptr);
    return g.events_used++;
  }
#endif
  return -1;
}

const std::string* innermost(Kind kind) {
  for (auto it = g.stack.rbegin(); it != g.stack.rend(); ++it)
    if (g.spans[static_cast<size_t>(*it)].kind == kind) return &g.spans[static_cast<size_t>(*it)].name;
  return nullptr;
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::step: return "step";
    case Kind::pass: return "pass";
    case Kind::layer: return "layer";
    case Kind::op: return "op";
  }
  return "?";
}

void start(Device device) {
  GLIA_CHECK(!detail::t_on, "profiler: a recording is already on");
  std::vector<void*> events = std::move(g.events);
  g = Recording{};
  g.events = std::move(events);
  g.device = device;
  g.spans.reserve(4096);
  rt::synchronize(device);  // earlier work must not land in the first span
  g.t0 = std::chrono::steady_clock::now();
  mark_event();  // event 0: the origin of the GPU timeline
  detail::t_on = true;
}

std::vector<Span> stop() {
  if (!detail::t_on) return {};
  leave_layer();
  while (!g.stack.empty()) close(g.stack.back());
  detail::t_on = false;
#ifdef GLIA_HAVE_CUDA
  if (g.device == Device::cuda) {
    cuda_rt::synchronize();
    for (size_t i = 0; i < g.spans.size(); ++i) {
      const auto [b, e] = g.span_events[i];
      const double begin = 1e3 * cuda_rt::elapsed_ms(g.events[0], g.events[static_cast<size_t>(b)]);
      const double end = 1e3 * cuda_rt::elapsed_ms(g.events[0], g.events[static_cast<size_t>(e)]);
      g.spans[i].start_us = begin;
      g.spans[i].dur_us = end - begin;
    }
  }
#endif
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
  g.span_events.emplace_back(mark_event(), -1);
  s.start_us = host_us();
  g.spans.push_back(std::move(s));
  g.stack.push_back(index);
  return index;
}

void close(int index) {
  if (index < 0 || !detail::t_on) return;
  const double now = host_us();
  const int event = mark_event();
  // Spans close innermost first; one left open by an exception closes with its parent.
  while (!g.stack.empty()) {
    const int top = g.stack.back();
    g.stack.pop_back();
    Span& s = g.spans[static_cast<size_t>(top)];
    s.dur_us = now - s.start_us;
    g.span_events[static_cast<size_t>(top)].second = event;
    if (top == index) break;
  }
}

int current_layer() {
  if (!detail::t_on) return -1;
  const std::string* layer = innermost(Kind::layer);
  if (layer == nullptr) return -1;
  auto [it, added] = g.layer_ids.emplace(*layer, static_cast<int>(g.layer_names.size()));
  if (added) g.layer_names.push_back(*layer);
  return it->second;
}

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
