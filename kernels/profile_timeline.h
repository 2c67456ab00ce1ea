// How the profiler (kernels/profile.h) times its spans: every span's two ends are marks
// on a timeline, resolved to microseconds only when the recording stops. On cpu and sim a
// mark reads the host's steady clock; on cuda it records a GPU event on the current
// stream, which neither waits nor serialises anything, and the only waits are one device
// synchronisation when the recording starts (earlier work stays out of the first span)
// and one when it stops. The recorder's logic is the same for every timeline, so tests
// check it (and that nothing waits while recording) with a scripted timeline.
#pragma once
#include <memory>

#include "kernels/device.h"

namespace glia::prof {

class Timeline {
 public:
  virtual ~Timeline() = default;
  virtual void begin() = 0;           // start(): after earlier work; the origin of time
  virtual int mark() = 0;             // a point in time; on cuda no wait
  virtual void finish() = 0;          // stop(): waits, once, until every mark has happened
  virtual double at_us(int mark) = 0;  // after finish(): the mark's time since begin()
};

std::unique_ptr<Timeline> host_timeline(Device device);  // steady clock (cpu, sim)
std::unique_ptr<Timeline> device_timeline(Device device);  // the timeline of `device`: cuda events on cuda

// Starts a recording on this thread timed by `timeline` (tests); start(device) uses
// device_timeline(device).
void start_with(Device device, std::unique_ptr<Timeline> timeline);

}  // namespace glia::prof
