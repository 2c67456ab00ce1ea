// Fiber stacks and context switches for the SIMT emulator (see fiber.h).
#include "kernels/sim/fiber.h"
#include "kernels/sim/thread_state.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define GLIA_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GLIA_SIM_ASAN 1
#endif
#endif
#ifdef GLIA_SIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define GLIA_SIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GLIA_SIM_TSAN 1
#endif
#endif
#ifdef GLIA_SIM_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if defined(__x86_64__) && defined(__linux__)
#define GLIA_SIM_ASM_SWITCH 1
// glia_sim_switch(save_sp, new_sp): pushes the callee-saved registers on the current
// stack, stores the stack pointer in *save_sp, loads new_sp and pops the registers saved
// there. Everything else is caller-saved in the System V ABI, so the C++ caller has
// already spilled it. A new fiber's stack is laid out so that the pops load its entry
// function into r13 and argument into r12, and `ret` lands in glia_sim_trampoline.
asm(R"(
  .text
  .globl glia_sim_switch
  .type glia_sim_switch, @function
glia_sim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size glia_sim_switch, .-glia_sim_switch

  .globl glia_sim_trampoline
  .type glia_sim_trampoline, @function
glia_sim_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size glia_sim_trampoline, .-glia_sim_trampoline
)");
extern "C" void glia_sim_switch(void** save_sp, void* new_sp);
extern "C" void glia_sim_trampoline();
#endif

namespace glia::sim::detail {
namespace {

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

bool read_use_ucontext() {
#ifdef GLIA_SIM_ASM_SWITCH
  const char* env = std::getenv("GLIA_SIM_UCONTEXT");
  return env != nullptr && env[0] == '1';
#else
  return true;
#endif
}

// Per-OS-thread pool of fiber stacks, unmapped when the thread ends.
struct StackPool {
  std::vector<Stack> free;
  ~StackPool() {
    for (Stack s : free) munmap(s.base - page_size(), s.size + page_size());
  }
};
GLIA_SIM_TLS thread_local StackPool t_pool;

void ucontext_entry(unsigned lo, unsigned hi) {
  auto* packed = reinterpret_cast<std::pair<FiberEntry, void*>*>(
      (static_cast<uintptr_t>(hi) << 32) | static_cast<uintptr_t>(lo));
  packed->first(packed->second);
}

// The entry and argument of a fiber about to start under ucontext (makecontext passes
// only ints, so a pointer to this travels split in two).
thread_local std::pair<FiberEntry, void*> t_ucontext_start;

ucontext_t* as_uc(void* p) { return static_cast<ucontext_t*>(p); }

void switch_to(Context& from, Context& to) {
  if (using_ucontext()) {
    if (from.uc == nullptr) from.uc = new ucontext_t();
    GLIA_CHECK(swapcontext(as_uc(from.uc), as_uc(to.uc)) == 0, "sim: swapcontext failed");
    return;
  }
#ifdef GLIA_SIM_ASM_SWITCH
  glia_sim_switch(&from.sp, to.sp);
#endif
}

}  // namespace

namespace {
std::atomic<bool> g_use_ucontext{read_use_ucontext()};
}

bool using_ucontext() { return g_use_ucontext.load(std::memory_order_relaxed); }

bool set_use_ucontext(bool on) {
#ifdef GLIA_SIM_ASM_SWITCH
  g_use_ucontext = on;
  return true;
#else
  return on;
#endif
}

size_t stack_size() {
  static const size_t size = [] {
#ifdef GLIA_SIM_ASAN
    size_t kib = 256;  // ASan's redzones make frames several times larger
#else
    size_t kib = 64;
#endif
    if (const char* env = std::getenv("GLIA_SIM_STACK_KB")) {
      long v = std::strtol(env, nullptr, 10);
      GLIA_CHECK(v >= 16 && v <= 65536, "GLIA_SIM_STACK_KB=" << env << ": expected 16..65536 (KiB per CUDA thread)");
      kib = static_cast<size_t>(v);
    }
    size_t bytes = kib * 1024;
    return (bytes + page_size() - 1) / page_size() * page_size();
  }();
  return size;
}

Stack acquire_stack() {
  if (!t_pool.free.empty()) {
    Stack s = t_pool.free.back();
    t_pool.free.pop_back();
    return s;
  }
  size_t size = stack_size();
  // MAP_NORESERVE: a 1024-thread block reserves 64 MiB, of which it touches a few pages.
  void* p = mmap(nullptr, size + page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  GLIA_CHECK(p != MAP_FAILED, "sim: could not map a " << size << "-byte fiber stack: " << std::strerror(errno));
  // The lowest page is a guard: a CUDA thread overflowing its stack faults instead of
  // silently writing into its neighbour's stack.
  mprotect(p, page_size(), PROT_NONE);
  return Stack{static_cast<char*>(p) + page_size(), size};
}

void release_stack(Stack s, bool abandoned) {
#ifdef GLIA_SIM_ASAN
  // Frames left by a fiber that never returned keep their redzones poisoned.
  if (abandoned) __asan_unpoison_memory_region(s.base, s.size);
#else
  (void)abandoned;
#endif
  t_pool.free.push_back(s);
}

Context::~Context() {
  delete as_uc(uc);
#ifdef GLIA_SIM_TSAN
  if (tsan_fiber != nullptr) __tsan_destroy_fiber(tsan_fiber);
#endif
}

void context_prepare(Context& fiber, Stack stack, FiberEntry entry, void* arg) {
#ifdef GLIA_SIM_TSAN
  // A fresh TSan fiber per run: the last one left the frames it exited from on TSan's
  // shadow call stack (exit_fiber never returns).
  if (fiber.tsan_fiber != nullptr) __tsan_destroy_fiber(fiber.tsan_fiber);
  fiber.tsan_fiber = __tsan_create_fiber(0);
#endif
  if (using_ucontext()) {
    if (fiber.uc == nullptr) fiber.uc = new ucontext_t();
    ucontext_t* uc = as_uc(fiber.uc);
    getcontext(uc);
    uc->uc_stack.ss_sp = stack.base;
    uc->uc_stack.ss_size = stack.size;
    uc->uc_link = nullptr;
    t_ucontext_start = {entry, arg};
    auto packed = reinterpret_cast<uintptr_t>(&t_ucontext_start);
    makecontext(uc, reinterpret_cast<void (*)()>(&ucontext_entry), 2, static_cast<unsigned>(packed),
                static_cast<unsigned>(packed >> 32));
    return;
  }
#ifdef GLIA_SIM_ASM_SWITCH
  // Initial frame, popped by glia_sim_switch: r15 r14 r13=entry r12=arg rbx rbp, then
  // the return address. After `ret` the stack pointer is `top`, 16-byte aligned as the
  // ABI wants before the trampoline's call.
  auto top = reinterpret_cast<uintptr_t>(stack.base + stack.size) & ~uintptr_t{15};
  auto* frame = reinterpret_cast<void**>(top) - 7;
  frame[0] = nullptr;
  frame[1] = nullptr;
  frame[2] = reinterpret_cast<void*>(entry);
  frame[3] = arg;
  frame[4] = nullptr;
  frame[5] = nullptr;
  frame[6] = reinterpret_cast<void*>(&glia_sim_trampoline);
  fiber.sp = frame;
#else
  (void)stack, (void)entry, (void)arg;
#endif
}

void resume(HostContext& host, Context& fiber, Stack fiber_stack) {
#ifdef GLIA_SIM_TSAN
  host.tsan_thread = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(fiber.tsan_fiber, 0);
#endif
#ifdef GLIA_SIM_ASAN
  __sanitizer_start_switch_fiber(&host.ctx.asan_fake, fiber_stack.base, fiber_stack.size);
  switch_to(host.ctx, fiber);
  __sanitizer_finish_switch_fiber(host.ctx.asan_fake, nullptr, nullptr);
#else
  (void)fiber_stack;
  switch_to(host.ctx, fiber);
#endif
}

void fiber_started(HostContext& host) {
#ifdef GLIA_SIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &host.stack_bottom, &host.stack_size);
#else
  (void)host;
#endif
}

void suspend(HostContext& host, Context& fiber) {
#ifdef GLIA_SIM_TSAN
  __tsan_switch_to_fiber(host.tsan_thread, 0);
#endif
#ifdef GLIA_SIM_ASAN
  __sanitizer_start_switch_fiber(&fiber.asan_fake, host.stack_bottom, host.stack_size);
  switch_to(fiber, host.ctx);
  __sanitizer_finish_switch_fiber(fiber.asan_fake, &host.stack_bottom, &host.stack_size);
#else
  switch_to(fiber, host.ctx);
#endif
}

void exit_fiber(HostContext& host, Context& fiber) {
#ifdef GLIA_SIM_TSAN
  __tsan_switch_to_fiber(host.tsan_thread, 0);
#endif
#ifdef GLIA_SIM_ASAN
  __sanitizer_start_switch_fiber(nullptr, host.stack_bottom, host.stack_size);
#endif
  switch_to(fiber, host.ctx);
  std::abort();  // unreachable: nobody resumes a finished fiber
}

}  // namespace glia::sim::detail
