#include "kernels/registry.h"

#include <mutex>

namespace glia::kernels {

namespace cpu { void register_kernels(); }
#ifdef GLIA_HAVE_SIM
namespace sim { void register_kernels(); }
#endif
#ifdef GLIA_HAVE_CUDA
namespace cuda { void register_kernels(); }
#endif
#ifdef GLIA_HAVE_CUDNN
namespace cudnn { void register_kernels(); }
#endif

namespace {
std::vector<const KernelSlotBase*>& slot_list() {
  static std::vector<const KernelSlotBase*> slots;  // built during static initialisation
  return slots;
}
}  // namespace

KernelSlotBase::KernelSlotBase(const char* name) : name_(name) { slot_list().push_back(this); }

const std::vector<const KernelSlotBase*>& all_kernel_slots() { return slot_list(); }

void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    cpu::register_kernels();
#ifdef GLIA_HAVE_SIM
    sim::register_kernels();
#endif
#ifdef GLIA_HAVE_CUDA
    cuda::register_kernels();
#endif
#ifdef GLIA_HAVE_CUDNN
    cudnn::register_kernels();
#endif
  });
}

Backend backend_for(Device device, const char* family_env_name) {
  bool library = true;  // unset or auto: the library kernel where the slot has one
  if (family_env_name != nullptr) {
    // Checked on every device, so a misspelt value fails on a CPU run too instead of
    // being noticed only on the first GPU run.
    const char* choice = std::getenv(family_env_name);
    const std::string c = choice != nullptr && *choice != '\0' ? choice : "auto";
    GLIA_CHECK(c == "hand" || c == "cudnn" || c == "auto",
               "environment variable " << family_env_name << "='" << c << "' is not one of hand, cudnn, auto");
    library = c != "hand";
  }
  if (device != Device::cuda) return hand_backend(device);
  return library && family_env_name != nullptr ? Backend::cudnn : Backend::cuda;
}

}  // namespace glia::kernels
