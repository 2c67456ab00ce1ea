// A fake data-parallel job in one process (tests/support/fake_replicas.h).
#include "tests/support/fake_replicas.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "tensor/cross_replica.h"
#include "tensor/ops.h"

namespace glia::test {
namespace {

struct Rendezvous {
  explicit Rendezvous(int world) : world(world), deposits(size_t(world)) {}
  const int world;
  std::mutex mutex;  // held by the rank that is computing
  std::condition_variable changed;
  std::vector<std::vector<double>> deposits;
  int arrived = 0;
  uint64_t generation = 0;  // completed sums
  std::vector<double> result;
  int finished = 0;
  std::string failure;  // the first one
  void fail(const std::string& why) {
    if (failure.empty()) failure = why;
    changed.notify_all();
  }
};

class FakeReducer : public CrossReplicaReducer {
 public:
  FakeReducer(Rendezvous& rv, int rank) : rv_(rv), rank_(rank) {}
  void set_lock(std::unique_lock<std::mutex>* lock) { lock_ = lock; }
  int64_t calls() const { return calls_; }
  int world_size() const override { return rv_.world; }

  void sum_in_place(const Tensor& values) override {
    ++calls_;
    if (values.dtype() != DType::f64 || !values.is_contiguous() || values.dim() != 1)
      rv_.fail("rank " + std::to_string(rank_) + ": sum_in_place needs a contiguous float64 vector");
    if (!rv_.failure.empty()) throw std::runtime_error(rv_.failure);
    rv_.deposits[size_t(rank_)] = values.to_vector<double>();
    const uint64_t generation = rv_.generation;
    if (++rv_.arrived == rv_.world) {
      rv_.result = rv_.deposits[0];
      for (int r = 1; r < rv_.world; ++r) {
        const std::vector<double>& d = rv_.deposits[size_t(r)];
        if (d.size() != rv_.result.size()) {
          std::ostringstream why;
          why << "sum " << generation << ": rank 0 gave " << rv_.result.size() << " values, rank " << r << " "
              << d.size();
          rv_.fail(why.str());
          break;
        }
        for (size_t i = 0; i < d.size(); ++i) rv_.result[i] += d[i];
      }
      rv_.arrived = 0;
      ++rv_.generation;
      rv_.changed.notify_all();
    } else {
      rv_.changed.wait(*lock_, [&] {
        return rv_.generation != generation || !rv_.failure.empty() || rv_.finished > 0;
      });
      if (rv_.generation == generation && rv_.failure.empty())
        rv_.fail("rank " + std::to_string(rank_) + " waits in sum " + std::to_string(generation) +
                 " but another rank has finished without it");
    }
    if (!rv_.failure.empty()) throw std::runtime_error(rv_.failure);
    values.copy_(from_vector(rv_.result, {int64_t(rv_.result.size())}, DType::f64, values.device()));
  }

 private:
  Rendezvous& rv_;
  const int rank_;
  std::unique_lock<std::mutex>* lock_ = nullptr;
  int64_t calls_ = 0;
};

}  // namespace

std::vector<int64_t> run_replicas(int world, const std::function<void(int rank)>& body) {
  if (world < 1) throw std::invalid_argument("run_replicas: world must be at least 1, got " + std::to_string(world));
  Rendezvous rv(world);
  std::vector<std::shared_ptr<FakeReducer>> reducers;
  for (int r = 0; r < world; ++r) reducers.push_back(std::make_shared<FakeReducer>(rv, r));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&rv, &body, reducer = reducers[size_t(r)], r] {
      std::unique_lock<std::mutex> lock(rv.mutex);
      reducer->set_lock(&lock);
      try {
        SyncBatchNormScope scope(reducer);
        body(r);
      } catch (const std::exception& e) {
        rv.fail("rank " + std::to_string(r) + ": " + e.what());
      }
      ++rv.finished;
      rv.changed.notify_all();
    });
  }
  for (std::thread& t : threads) t.join();
  if (!rv.failure.empty()) throw std::runtime_error("run_replicas: " + rv.failure);
  std::vector<int64_t> calls;
  for (const auto& r : reducers) calls.push_back(r->calls());
  return calls;
}

}  // namespace glia::test
