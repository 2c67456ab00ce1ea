// Internal to the emulator: poisoning a block's shared memory before it starts.
//
// On a GPU, shared memory holds whatever the previous block left there. The emulator
// fills all of it, static `__shared__` arrays and the dynamic buffer, with a poison word
// at the start of every block, so a kernel reading shared memory that no thread of the
// block wrote sees an obviously wrong value: the word is a quiet NaN as a float (two of
// them: a NaN double) and INT_MAX or one less as an integer. Checked mode gives each of
// its schedules its own word, so such a read usually makes the schedules' results differ
// and is reported (checked.cpp).
//
// Static `__shared__` variables are function-local `static thread_local`s (see
// cuda_dialect.h), found through the symbol table: every `__shared__` declaration also
// declares a one-byte marker, `glia_sim_shared_mark_<n>`, and every thread-local symbol
// of a function holding a marker is that function's shared memory.
#pragma once
#include <cstddef>
#include <cstdint>

namespace glia::sim::detail {

// The poison word per schedule (forward, reverse, random); unchecked mode uses the first.
constexpr uint32_t kSharedPoison[3] = {0x7fffffffu, 0x7ffffffeu, 0x7ffffffdu};

// Fills [p, p + bytes) so that every 4-byte aligned word in it reads `word`.
void poison_bytes(void* p, size_t bytes, uint32_t word);

// Poisons the calling OS thread's copy of every static __shared__ variable that `kernel`
// (the kernel function) can reach: its own, and those of functions never launched.
void poison_static_shared(uint32_t word, const void* kernel);

// Bytes of static __shared__ memory found (0 when the program has no symbol table).
size_t static_shared_bytes();

}  // namespace glia::sim::detail
