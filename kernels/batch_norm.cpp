#include "kernels/batch_norm.h"

namespace glia::kernels {

const char* norm_activation_name(NormActivation act) {
  switch (act) {
    case NormActivation::identity: return "identity";
    case NormActivation::relu: return "relu";
    case NormActivation::silu: return "silu";
  }
  return "?";
}

}  // namespace glia::kernels
