// The single-process side of data parallelism (train/communicator.h, train/data_parallel.h):
// the shard rule, batch slicing and the one-process communicator. The 2-rank behaviour is
// tested under mpirun (tests/mpi, label mpi).
#include <gtest/gtest.h>

#include <numeric>

#include "kernels/error.h"
#include "train/data_parallel.h"

namespace glia {
namespace {

TEST(ShardRange, CoversTheBatchOnceWithSharesDifferingByAtMostOne) {
  for (size_t n : {0u, 1u, 5u, 7u, 32u, 33u})
    for (int world : {1, 2, 3, 4, 8}) {
      size_t next = 0, smallest = n, largest = 0;
      for (int r = 0; r < world; ++r) {
        const ShardRange s = shard_range(n, r, world);
        EXPECT_EQ(s.begin, next) << n << " over " << world;
        next = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1u) << n << " over " << world;
    }
  EXPECT_EQ(shard_range(5, 0, 2).size(), 2u);  // the larger share on the higher rank
  EXPECT_EQ(shard_range(5, 1, 2).size(), 3u);
  EXPECT_THROW(shard_range(4, 2, 2), Error);
}

TEST(BatchShard, KeepsTheRowsOfEveryField) {
  io::Batch b;
  b.n = 3, b.c = 2, b.h = 1, b.w = 2;
  b.images.resize(3 * 4);
  std::iota(b.images.begin(), b.images.end(), 0.0f);
  b.masks = {0, 1, 1, 0, 1, 1};
  b.labels = {7, 8, 9};
  b.paths = {"a", "b", "c"};
  b.indices = {10, 11, 12};
  const io::Batch s = batch_shard(b, {1, 3});
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.global_n, 3);
  EXPECT_EQ(s.images, std::vector<float>(b.images.begin() + 4, b.images.end()));
  EXPECT_EQ(s.masks, (std::vector<float>{1, 0, 1, 1}));
  EXPECT_EQ(s.labels, (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(s.paths, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(s.indices, (std::vector<size_t>{11, 12}));
  EXPECT_THROW(batch_shard(b, {2, 4}), Error);
}

TEST(SingleProcessCommunicator, CollectivesLeaveTheDataAsItIs) {
  SingleProcessCommunicator one;
  EXPECT_FALSE(one.distributed());
  std::vector<double> v{1.5, -2};
  one.all_reduce_sum(v);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2}));
  EXPECT_THROW(one.all_reduce_sum(v.data(), 1, DType::i64), Error);
}

}  // namespace
}  // namespace glia
