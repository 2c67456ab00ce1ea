// Hand-written reductions (kernels/cuda/reduce.cu) on sim (and cuda) against a double
// reference: the row kernel (inner == 1, rows shorter and longer than a block) and the
// column kernel (inner > 1, more than one 32-column tile), every op, both float types,
// the optional indices, first-index ties, and bit-identical repeated runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/reduce.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

using kernels::ReduceOp;

class ReduceSim : public KernelTest {};

struct Shape {
  int64_t outer, reduce, inner;
};

// Rows shorter and longer than a block; columns with one and two 32-wide tiles, and with
// fewer reduce elements than the 8 slices of a column block.
const Shape kShapes[] = {{3, 37, 1}, {2, 700, 1}, {3, 37, 5}, {2, 19, 45}, {2, 3, 33}, {1, 1, 1}};
const ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::mean, ReduceOp::max, ReduceOp::min, ReduceOp::argmax};

struct Result {
  std::vector<double> values;      // sum/mean/max/min
  std::vector<int64_t> positions;  // max/min/argmax: first extreme
  std::vector<double> abs_sums;    // sum of |x|, scales the tolerance of sums
};

Result reference(ReduceOp op, const Shape& s, const std::vector<double>& x) {
  Result r;
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      double sum = 0, abs_sum = 0, best = x[o * s.reduce * s.inner + i];
      int64_t at = 0;
      for (int64_t j = 0; j < s.reduce; ++j) {
        double v = x[(o * s.reduce + j) * s.inner + i];
        sum += v;
        abs_sum += std::fabs(v);
        bool better = op == ReduceOp::min ? v < best : v > best;
        if (better) best = v, at = j;
      }
      r.values.push_back(op == ReduceOp::sum ? sum : op == ReduceOp::mean ? sum / s.reduce : best);
      r.positions.push_back(at);
      r.abs_sums.push_back(op == ReduceOp::mean ? abs_sum / s.reduce : abs_sum);
    }
  }
  return r;
}

template <class T>
void check_reduce(Backend backend, ReduceOp op, const Shape& s, const std::vector<T>& x) {
  const size_t outputs = static_cast<size_t>(s.outer * s.inner);
  Result ref = reference(op, s, cast_vector<double>(x));
  DeviceBuffer<T> dx(backend, x);
  DeviceBuffer<T> dout(backend, outputs);
  DeviceBuffer<int64_t> dindex(backend, outputs);
  kernels::ReduceParams p;
  p.dtype = dtype_of<T>::value;
  p.op = op;
  p.outer = s.outer;
  p.reduce = s.reduce;
  p.inner = s.inner;
  p.x = dx.data();
  bool extreme = op == ReduceOp::max || op == ReduceOp::min;
  if (op == ReduceOp::argmax) {
    p.out = dindex.data();
  } else {
    p.out = dout.data();
    if (extreme) p.indices = dindex.data();
  }
  kernels::reduce_kernel.get(backend)(p);
  std::string where = "op " + std::to_string(static_cast<int>(op)) + " shape [" + std::to_string(s.outer) + ", " +
                      std::to_string(s.reduce) + ", " + std::to_string(s.inner) + "]";
  if (op != ReduceOp::argmax) {
    std::vector<T> got = dout.download();
    for (size_t i = 0; i < outputs; ++i) {
      if (extreme) {
        ASSERT_EQ(static_cast<double>(got[i]), ref.values[i]) << where << " output " << i;
      } else {  // summation order differs from the reference: error relative to sum |x|
        ASSERT_NEAR(static_cast<double>(got[i]), ref.values[i], tolerance<T>() * ref.abs_sums[i]) << where << " output " << i;
      }
    }
  }
  if (op == ReduceOp::argmax || extreme) {
    std::vector<int64_t> got = dindex.download();
    for (size_t i = 0; i < outputs; ++i) ASSERT_EQ(got[i], ref.positions[i]) << where << " index " << i;
  }
}

TEST_P(ReduceSim, EveryOpRowsAndColumnsFloat) {
  for (const Shape& s : kShapes)
    for (ReduceOp op : kOps) check_reduce<float>(GetParam(), op, s, random_vector<float>(s.outer * s.reduce * s.inner, 41));
}

TEST_P(ReduceSim, EveryOpRowsAndColumnsDouble) {
  for (const Shape& s : kShapes)
    for (ReduceOp op : kOps) check_reduce<double>(GetParam(), op, s, random_vector<double>(s.outer * s.reduce * s.inner, 42));
}

TEST_P(ReduceSim, MoreRowsThanTheGridHasBlocks) {
  // The row kernel launches at most 4096 blocks; block b also reduces rows b+4096, ...
  // (unchecked: that many blocks run twice in checked mode take seconds).
  sim::set_checked(false);
  const Shape s{4096 + 37, 3, 1};
  check_reduce<float>(GetParam(), ReduceOp::sum, s, random_vector<float>(s.outer * s.reduce, 45));
  check_reduce<float>(GetParam(), ReduceOp::argmax, s, random_vector<float>(s.outer * s.reduce, 46));
}

TEST_P(ReduceSim, TiesReportTheFirstIndex) {
  // Small integers in [-3, 3]: every row and column has repeated extremes, spread over
  // different threads, lanes and warps.
  for (const Shape& s : {Shape{2, 300, 1}, Shape{2, 50, 33}}) {
    std::vector<float> x = cast_vector<float>(random_ints(s.outer * s.reduce * s.inner, 43, -3, 4));
    for (ReduceOp op : {ReduceOp::max, ReduceOp::min, ReduceOp::argmax}) check_reduce<float>(GetParam(), op, s, x);
  }
}

TEST_P(ReduceSim, SumIsBitIdenticalAcrossRuns) {
  const Shape s{2, 900, 1};
  std::vector<float> x = random_vector<float>(s.outer * s.reduce, 44, -1e4, 1e4);
  DeviceBuffer<float> dx(GetParam(), x), first(GetParam(), 2), second(GetParam(), 2);
  kernels::ReduceParams p;
  p.outer = s.outer;
  p.reduce = s.reduce;
  p.x = dx.data();
  p.out = first.data();
  kernels::reduce_kernel.get(GetParam())(p);
  p.out = second.data();
  kernels::reduce_kernel.get(GetParam())(p);
  std::vector<float> a = first.download(), b = second.download();
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size()));
}

TEST_P(ReduceSim, EmptyAxisSumIsZeroAndMaxIsAnError) {
  DeviceBuffer<float> dx(GetParam(), 1), dout(GetParam(), 3);
  kernels::ReduceParams p;
  p.outer = 3;
  p.reduce = 0;
  p.x = dx.data();
  p.out = dout.data();
  kernels::reduce_kernel.get(GetParam())(p);
  for (float v : dout.download()) EXPECT_EQ(v, 0.0f);
  p.op = ReduceOp::max;
  EXPECT_THROW(kernels::reduce_kernel.get(GetParam())(p), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReduceSim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test
