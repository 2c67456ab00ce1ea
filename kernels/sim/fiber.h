// Fibers for the SIMT emulator: a stack and a saved register context per CUDA thread,
// switched cooperatively on one OS thread (the worker running the block).
//
// Two implementations of the switch:
//  * x86-64: a hand-written switch saving the six callee-saved registers and the stack
//    pointer (about 20 instructions; ucontext is an order of magnitude slower because
//    swapcontext saves and restores the signal mask with a system call);
//  * ucontext (makecontext/swapcontext): portable fallback, used on other CPUs or when
//    the environment variable GLIA_SIM_UCONTEXT=1 is set at first use.
// Under AddressSanitizer every switch is announced with __sanitizer_start_switch_fiber /
// __sanitizer_finish_switch_fiber so ASan knows which stack is live. Under
// ThreadSanitizer each fiber is a TSan fiber (__tsan_create_fiber), entered with
// __tsan_switch_to_fiber just before every switch: TSan then keeps a call stack and a
// clock per CUDA thread, and each switch orders the fibers of one block (they run one at a
// time on one OS thread), so only blocks running on different workers can race.
#pragma once
#include <cstddef>

namespace glia::sim::detail {

struct Stack {
  char* base = nullptr;  // lowest usable byte (a PROT_NONE guard page lies below it)
  size_t size = 0;
};

// Stacks are pooled per OS thread: a fiber takes one when it first runs and gives it
// back when it finishes, so a kernel without barriers needs a single stack per worker.
Stack acquire_stack();
void release_stack(Stack s, bool abandoned);  // abandoned: frames still live (fault path)
size_t stack_size();                           // GLIA_SIM_STACK_KB, default 64 (256 under ASan)

struct Context {
  void* sp = nullptr;          // x86-64 switch: saved stack pointer
  void* uc = nullptr;          // ucontext fallback: ucontext_t*, owned
  void* asan_fake = nullptr;   // ASan's fake-stack handle while switched out
  void* tsan_fiber = nullptr;  // TSan's fiber (owned; created by context_prepare)
  Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();
};

// The worker's own context (the scheduler loop on the OS thread's stack).
struct HostContext {
  Context ctx;
  const void* stack_bottom = nullptr;  // learned from ASan on the first switch
  size_t stack_size = 0;
  void* tsan_thread = nullptr;         // the OS thread's own TSan fiber (not owned)
};

using FiberEntry = void (*)(void* arg);

// Prepares `fiber` to run entry(arg) on `stack` at its next resume().
void context_prepare(Context& fiber, Stack stack, FiberEntry entry, void* arg);
// From the host into a fiber; returns when the fiber suspends or exits.
void resume(HostContext& host, Context& fiber, Stack fiber_stack);
// From a fiber back to the host; returns when the host resumes this fiber.
void suspend(HostContext& host, Context& fiber);
// From a fiber back to the host for the last time.
[[noreturn]] void exit_fiber(HostContext& host, Context& fiber);
// First thing a fiber entry function calls (tells ASan where the host stack is).
void fiber_started(HostContext& host);

bool using_ucontext();
// Selects the switch between blocks (tests run both); false if the request is impossible.
// Only between launches: a fiber prepared by one switch must be resumed by the same.
bool set_use_ucontext(bool on);

}  // namespace glia::sim::detail
