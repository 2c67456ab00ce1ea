// Every kernel slot of the build has a cpu and a sim kernel (and a cuda kernel in CUDA
// builds), and the harness covers every slot: deleting a registration line, or adding a
// slot with no case, fails here instead of turning tests into skips.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "tests/kernels_ops/cases.h"

namespace glia::test::ops {
namespace {

std::vector<Backend> required_backends() {
  std::vector<Backend> out{Backend::cpu, Backend::sim};
#ifdef GLIA_HAVE_CUDA
  out.push_back(Backend::cuda);
#endif
  return out;
}

TEST(KernelRegistry, EverySlotHasAKernelOnEveryBackendOfTheBuild) {
  const auto& slots = kernels::all_kernel_slots();
  ASSERT_GE(slots.size(), kHarnessSlots.size()) << "the slots did not register themselves";
  for (const kernels::KernelSlotBase* slot : slots)
    for (Backend b : required_backends())
      EXPECT_TRUE(slot->has(b)) << "op '" << slot->name() << "' has no " << backend_name(b) << " kernel registered";
}

TEST(KernelRegistry, SlotNamesAreUnique) {
  std::set<std::string> seen;
  for (const kernels::KernelSlotBase* slot : kernels::all_kernel_slots())
    EXPECT_TRUE(seen.insert(slot->name()).second) << "two slots are named '" << slot->name() << "'";
}

TEST(KernelRegistry, TheHarnessCoversEverySlotAndNamesNoOther) {
  std::set<std::string> registered, covered(kHarnessSlots.begin(), kHarnessSlots.end());
  for (const kernels::KernelSlotBase* slot : kernels::all_kernel_slots()) registered.insert(slot->name());
  for (const std::string& name : registered)
    EXPECT_TRUE(covered.count(name)) << "slot '" << name << "' has no case in tests/kernels_ops (add one to cases.h)";
  for (const std::string& name : covered)
    EXPECT_TRUE(registered.count(name)) << "tests/kernels_ops/cases.h names '" << name << "', which is no slot";
}

}  // namespace
}  // namespace glia::test::ops
