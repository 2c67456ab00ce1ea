// The profiler's recorder: nested, timed spans (step -> pass -> layer -> op) on the thread
// that started a recording. Ops are recorded where every kernel call passes, the registry's
// select() (kernels/registry.h), with the family's cost() (kernels/cost.h); layers open
// their spans in layers/ (nn::ProfileLayers), passes and steps are opened by the driver
// (apps/profile.cpp). When no recording is on, each of those places costs one branch on a
// thread-local flag.
//
// Timing: cpu and sim kernels are synchronous, so spans use the host's steady clock. On
// cuda each span's ends are GPU events recorded on the current stream (no synchronisation
// while recording); stop() waits once and reads every span off the GPU timeline, so the
// spans measure GPU time and still nest. Every kernel call on cuda also opens an NVTX
// range named after its op (when the toolkit has NVTX), so Nsight Systems shows glia's
// names, recording or not.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cost.h"
#include "kernels/device.h"

namespace glia::prof {

enum class Kind : uint8_t { step, pass, layer, op };
const char* kind_name(Kind k);

struct Span {
  Kind kind = Kind::op;
  std::string name;   // op: the kernel slot ("conv2d"); layer: dotted module path; pass:
                      // forward/backward/optimizer; step: "step"
  int parent = -1;    // index of the enclosing span, -1 at the top
  double start_us = 0, dur_us = 0;  // from the start of the recording
  double flops = 0, bytes = 0;      // ops: the call's cost()
  std::string layer;  // ops: the innermost layer path ("" outside every layer)
  std::string pass;   // ops and layers: the enclosing pass ("" outside every pass)
};

namespace detail {
inline thread_local bool t_on = false;
}
// True on the recording thread while a recording is on: the one branch of the off path.
inline bool on() { return detail::t_on; }

// Starts a recording on this thread (clearing the last one); Error if one is already on.
void start(Device device);
// Ends it (closing any span left open) and returns every span, in opening order.
std::vector<Span> stop();

// Opens a span and returns its index for close(); -1 (and nothing recorded) when off.
int open(Kind kind, const std::string& name, const kernels::OpCost& cost = {});
void close(int index);

class Scope {
 public:
  Scope(Kind kind, const std::string& name) : index_(on() ? open(kind, name) : -1) {}
  ~Scope() { close(index_); }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  int index_;
};

// Layers of the backward pass: autograd nodes remember the layer they were recorded in
// (current_layer(): an id, -1 outside every layer or when off); the backward engine calls
// enter_layer(id) before each node, which opens a layer span when the layer changes, and
// leave_layer() at the end.
int current_layer();
void enter_layer(int id);
void leave_layer();
// Gradient accumulation into a leaf (a parameter's .grad) belongs to the layer that used
// the leaf when the graph was recorded; a leaf first used outside every layer (an input
// that requires grad) accumulates under this pseudo-layer, not under an empty path.
inline constexpr const char* kAutogradLayer = "(autograd)";
int autograd_layer();  // its id; -1 when off

// NVTX range around a GPU kernel call (no-op unless built with CUDA and NVTX).
void nvtx_push(const char* name);
void nvtx_pop();

// ---- reports --------------------------------------------------------------------------
// One row per (op, layer, pass): calls, total time, summed cost. Rows named
// "(outside kernels)" hold each pass's time spent outside every op (framework work on the
// host: autograd, allocation, shape checks), and "(outside passes)" the steps' time
// outside every pass, so the rows add up to the steps' time. Sorted by time, longest first.
struct Row {
  std::string op, layer, pass;
  int64_t calls = 0;
  double total_us = 0, flops = 0, bytes = 0;
};
std::vector<Row> aggregate(const std::vector<Span>& spans);

// Writes the spans as a Chrome trace-event file (complete "X" events, microseconds), which
// chrome://tracing and Perfetto open; Error naming the file when it cannot be written.
void write_chrome_trace(const std::string& path, const std::vector<Span>& spans);

}  // namespace glia::prof
