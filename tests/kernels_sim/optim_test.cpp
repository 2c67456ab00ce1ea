// Optimizer update kernels (kernels/cuda/optim.cu) on sim (and cuda) against the CPU
// kernels run in double: Adam with L2 and decoupled weight decay over several steps, and
// SGD with momentum and nesterov (first step and later steps).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/optim.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

class OptimSim : public KernelTest {};

constexpr size_t kN = 1037;  // not a multiple of the block size

template <class T>
void check_adam(Backend backend, bool decoupled) {
  std::vector<double> w = random_doubles(kN, 1), m = random_doubles(kN, 2), v = random_doubles(kN, 3, 0.01, 1.0);
  DeviceBuffer<T> dw(backend, cast_vector<T>(w)), dm(backend, cast_vector<T>(m)), dv(backend, cast_vector<T>(v));
  for (int64_t step = 1; step <= 3; ++step) {
    std::vector<double> g = random_doubles(kN, static_cast<uint32_t>(10 + step));
    DeviceBuffer<T> dg(backend, cast_vector<T>(g));
    kernels::AdamParams p;
    p.n = static_cast<int64_t>(kN);
    p.lr = 1e-2;
    p.weight_decay = 0.1;
    p.decoupled = decoupled;
    p.step = step;
    kernels::AdamParams ref = p;
    ref.dtype = DType::f64;
    ref.param = w.data();
    ref.grad = g.data();
    ref.exp_avg = m.data();
    ref.exp_avg_sq = v.data();
    kernels::adam_step_kernel.get(Backend::cpu)(ref);
    p.dtype = dtype_of<T>::value;
    p.param = dw.data();
    p.grad = dg.data();
    p.exp_avg = dm.data();
    p.exp_avg_sq = dv.data();
    kernels::adam_step_kernel.get(backend)(p);
  }
  EXPECT_LT(max_rel_error(dw.download(), w), 20 * tolerance<T>());
  EXPECT_LT(max_rel_error(dm.download(), m), 20 * tolerance<T>());
  EXPECT_LT(max_rel_error(dv.download(), v), 20 * tolerance<T>());
}

template <class T>
void check_sgd(Backend backend) {
  std::vector<double> w = random_doubles(kN, 4), buf(kN, 0.0);
  DeviceBuffer<T> dw(backend, cast_vector<T>(w)), dbuf(backend, cast_vector<T>(buf));
  for (int step = 0; step < 3; ++step) {
    std::vector<double> g = random_doubles(kN, static_cast<uint32_t>(20 + step));
    DeviceBuffer<T> dg(backend, cast_vector<T>(g));
    kernels::SgdParams p;
    p.n = static_cast<int64_t>(kN);
    p.lr = 0.05;
    p.momentum = 0.9;
    p.weight_decay = 1e-3;
    p.nesterov = true;
    p.first_step = step == 0;
    kernels::SgdParams ref = p;
    ref.dtype = DType::f64;
    ref.param = w.data();
    ref.grad = g.data();
    ref.momentum_buffer = buf.data();
    kernels::sgd_step_kernel.get(Backend::cpu)(ref);
    p.dtype = dtype_of<T>::value;
    p.param = dw.data();
    p.grad = dg.data();
    p.momentum_buffer = dbuf.data();
    kernels::sgd_step_kernel.get(backend)(p);
  }
  EXPECT_LT(max_rel_error(dw.download(), w), 20 * tolerance<T>());
  EXPECT_LT(max_rel_error(dbuf.download(), buf), 20 * tolerance<T>());
}

TEST_P(OptimSim, AdamL2MatchesCpu) {
  check_adam<float>(GetParam(), false);
  check_adam<double>(GetParam(), false);
}

TEST_P(OptimSim, AdamDecoupledMatchesCpu) { check_adam<float>(GetParam(), true); }

TEST_P(OptimSim, SgdNesterovMatchesCpu) {
  check_sgd<float>(GetParam());
  check_sgd<double>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, OptimSim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test
