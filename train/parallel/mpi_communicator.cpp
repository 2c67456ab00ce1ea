#include "train/parallel/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "kernels/error.h"

namespace glia::parallel {
namespace {

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

MPI_Datatype mpi_type(DType dtype) {
  if (dtype == DType::f32) return MPI_FLOAT;
  if (dtype == DType::f64) return MPI_DOUBLE;
  GLIA_FAIL("all-reduce: dtype " << dtype_name(dtype) << " is not summed (f32 or f64)");
}

template <class T>
void sum_in_rank_order(const T* received, T* out, size_t count, int world) {
  // out = ((x_0 + x_1) + x_2) + ...: a fixed order, the same on every run.
  for (size_t i = 0; i < count; ++i) out[i] = received[i];
  for (int r = 1; r < world; ++r) {
    const T* x = received + static_cast<size_t>(r) * count;
    for (size_t i = 0; i < count; ++i) out[i] += x[i];
  }
}

class OrderedAllReduce;

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(double timeout) : timeout_(timeout) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      GLIA_CHECK(rc == MPI_SUCCESS, "MPI_Init_thread failed: " << mpi_error(rc));
      owns_mpi_ = true;
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    check(MPI_Comm_dup(MPI_COMM_WORLD, &gather_comm_), "MPI_Comm_dup");
    // Errors come back as return codes (turned into glia::Error naming the rank), not
    // as the default handler's abort.
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check(MPI_Comm_set_errhandler(gather_comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    const char* mode = std::getenv("GLIA_ALLREDUCE");
    const std::string m = mode ? mode : "ordered";
    GLIA_CHECK(m == "ordered" || m == "mpi", "GLIA_ALLREDUCE=" << m << ": expected 'ordered' or 'mpi'");
    ordered_ = m == "ordered";
  }
  ~MpiCommunicator() override {
    MPI_Comm_free(&gather_comm_);
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  bool ordered_sum() const override { return ordered_; }

  std::unique_ptr<Request> start_all_reduce_sum(void* data, size_t count, DType dtype) override;

  void broadcast(void* data, size_t bytes, int root) override {
    GLIA_CHECK(bytes <= static_cast<size_t>(INT32_MAX), "broadcast of " << bytes << " bytes: more than 2 GiB");
    MPI_Request request;
    check(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_, &request), "MPI_Ibcast");
    wait(request, "broadcast of " + std::to_string(bytes) + " bytes from rank " + std::to_string(root));
  }
  void barrier() override {
    MPI_Request request;
    check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
    wait(request, "barrier");
  }
  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

  void check(int rc, const char* what) const {
    GLIA_CHECK(rc == MPI_SUCCESS, "rank " << rank_ << " of " << size_ << ": " << what << " failed: " << mpi_error(rc));
  }
  // Whether `request` has completed (MPI_REQUEST_NULL counts as complete); never blocks.
  bool test(MPI_Request& request, const char* what) const {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    return done != 0;
  }
  // Polls until done or the deadline: a dead or stuck rank becomes an error, not a hang.
  void wait(MPI_Request& request, const std::string& what) const {
    const auto start = std::chrono::steady_clock::now();
    for (int polls = 0;; ++polls) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what.c_str());
      if (done) return;
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      GLIA_CHECK(timeout_ <= 0 || waited < timeout_,
                 "rank " << rank_ << " of " << size_ << ": " << what << " did not complete within " << timeout_
                         << " s (GLIA_COMM_TIMEOUT): another rank has died, hangs or is far behind");
      // Spin briefly (a step's exchange is usually quick), then yield the core to the
      // other ranks' compute instead of burning it.
      if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(polls > 100000 ? 1000 : 50));
    }
  }
  MPI_Comm comm() const { return comm_; }
  MPI_Comm gather_comm() const { return gather_comm_; }
  bool ordered() const { return ordered_; }

  // The ordered all-reduces whose first phase (reduce-scatter) may still be in flight,
  // oldest first. MPI matches collectives on a communicator by the order they are started,
  // so every rank must start the second phases (all-gathers, on gather_comm_) in one order
  // too: the order of the first phases, whatever order their completion is noticed in.
  void enqueue(OrderedAllReduce* request) const { scattering_.push_back(request); }
  void forget(OrderedAllReduce* request) const;
  // Starts the all-gather of every queued request whose reduce-scatter is done, oldest
  // first, stopping at the first that is not; with `until`, waits (deadline included) for
  // the scatters up to and including that request.
  void advance(const OrderedAllReduce* until) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL, gather_comm_ = MPI_COMM_NULL;
  mutable std::deque<OrderedAllReduce*> scattering_;
  int rank_ = 0, size_ = 1;
  double timeout_;
  bool owns_mpi_ = false, ordered_ = true;
};

// The ordered all-reduce: reduce-scatter by MPI_Ialltoallv, the sum of this rank's chunk
// in rank order, then MPI_Iallgatherv in place (on the communicator's second MPI
// communicator, in the order MpiCommunicator::advance keeps).
class OrderedAllReduce : public Communicator::Request {
 public:
  OrderedAllReduce(const MpiCommunicator& comm, void* data, size_t count, DType dtype)
      : comm_(comm), data_(static_cast<char*>(data)), count_(count), dtype_(dtype), type_(mpi_type(dtype)) {
    const int world = comm.size();
    GLIA_CHECK(count <= static_cast<size_t>(INT32_MAX), "all-reduce of " << count << " values: more than 2^31");
    counts_.resize(static_cast<size_t>(world));
    displs_.resize(static_cast<size_t>(world));
    for (int r = 0; r < world; ++r) {
      const ShardRange chunk = shard_range(count, r, world);
      counts_[static_cast<size_t>(r)] = static_cast<int>(chunk.size());
      displs_[static_cast<size_t>(r)] = static_cast<int>(chunk.begin);
    }
    const int mine = counts_[static_cast<size_t>(comm.rank())];
    received_.resize(static_cast<size_t>(mine) * static_cast<size_t>(world) * dtype_size(dtype));
    recv_counts_.assign(static_cast<size_t>(world), mine);
    recv_displs_.resize(static_cast<size_t>(world));
    for (int r = 0; r < world; ++r) recv_displs_[static_cast<size_t>(r)] = r * mine;
    comm_.check(MPI_Ialltoallv(data_, counts_.data(), displs_.data(), type_, received_.data(), recv_counts_.data(),
                               recv_displs_.data(), type_, comm_.comm(), &request_),
                "MPI_Ialltoallv");
    comm_.enqueue(this);
  }
  ~OrderedAllReduce() override { comm_.forget(this); }

  void progress() override {
    comm_.advance(nullptr);
    if (phase_ == Phase::gather && comm_.test(request_, "MPI_Test (all-reduce, all-gather)")) phase_ = Phase::done;
  }
  void wait() override {
    comm_.advance(this);
    if (phase_ == Phase::gather) comm_.wait(request_, describe() + " (all-gather)");
    phase_ = Phase::done;
  }

  // For MpiCommunicator::advance: the reduce-scatter's state, and the second phase.
  bool scatter_done() { return comm_.test(request_, "MPI_Test (all-reduce, reduce-scatter)"); }
  void wait_scatter() { comm_.wait(request_, describe() + " (reduce-scatter)"); }
  void start_gather() {
    const int world = comm_.size();
    const size_t mine = static_cast<size_t>(counts_[static_cast<size_t>(comm_.rank())]);
    char* out = data_ + static_cast<size_t>(displs_[static_cast<size_t>(comm_.rank())]) * dtype_size(dtype_);
    if (dtype_ == DType::f32)
      sum_in_rank_order(reinterpret_cast<const float*>(received_.data()), reinterpret_cast<float*>(out), mine, world);
    else
      sum_in_rank_order(reinterpret_cast<const double*>(received_.data()), reinterpret_cast<double*>(out), mine,
                        world);
    comm_.check(MPI_Iallgatherv(MPI_IN_PLACE, 0, type_, data_, counts_.data(), displs_.data(), type_,
                                comm_.gather_comm(), &request_),
                "MPI_Iallgatherv");
    phase_ = Phase::gather;
  }

 private:
  enum class Phase { scatter, gather, done };
  std::string describe() const { return "all-reduce of " + std::to_string(count_) + " values"; }

  const MpiCommunicator& comm_;
  char* data_;
  size_t count_;
  DType dtype_;
  MPI_Datatype type_;
  std::vector<int> counts_, displs_, recv_counts_, recv_displs_;
  std::vector<char> received_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  Phase phase_ = Phase::scatter;
};

void MpiCommunicator::forget(OrderedAllReduce* request) const {
  for (auto it = scattering_.begin(); it != scattering_.end(); ++it)
    if (*it == request) {
      scattering_.erase(it);
      return;
    }
}

void MpiCommunicator::advance(const OrderedAllReduce* until) const {
  bool waiting = until != nullptr && std::find(scattering_.begin(), scattering_.end(), until) != scattering_.end();
  while (!scattering_.empty()) {
    OrderedAllReduce* oldest = scattering_.front();
    if (waiting) {
      oldest->wait_scatter();
    } else if (!oldest->scatter_done()) {
      return;
    }
    scattering_.pop_front();
    oldest->start_gather();
    if (oldest == until) waiting = false;
  }
}

class LibraryAllReduce : public Communicator::Request {
 public:
  LibraryAllReduce(const MpiCommunicator& comm, void* data, size_t count, DType dtype) : comm_(comm), count_(count) {
    GLIA_CHECK(count <= static_cast<size_t>(INT32_MAX), "all-reduce of " << count << " values: more than 2^31");
    comm_.check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type(dtype), MPI_SUM, comm_.comm(),
                               &request_),
                "MPI_Iallreduce");
  }
  void progress() override { comm_.test(request_, "MPI_Test (all-reduce)"); }
  void wait() override { comm_.wait(request_, "all-reduce of " + std::to_string(count_) + " values"); }

 private:
  const MpiCommunicator& comm_;
  size_t count_;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

std::unique_ptr<Communicator::Request> MpiCommunicator::start_all_reduce_sum(void* data, size_t count, DType dtype) {
  mpi_type(dtype);  // refuses other dtypes on every backend alike
  if (ordered_) return std::make_unique<OrderedAllReduce>(*this, data, count, dtype);
  return std::make_unique<LibraryAllReduce>(*this, data, count, dtype);
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds) {
  return std::make_unique<MpiCommunicator>(timeout_seconds);
}

}  // namespace glia::parallel
