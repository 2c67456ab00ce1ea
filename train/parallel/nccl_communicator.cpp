#include "train/parallel/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "kernels/error.h"

namespace glia::parallel {
namespace {

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> mpi, double timeout) : mpi_(std::move(mpi)), timeout_(timeout) {
    ncclUniqueId id;
    if (mpi_->rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_->broadcast(&id, sizeof id, 0);
    cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check(ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  std::string backend() const override { return "nccl"; }
  bool device_buffers() const override { return true; }
  bool ordered_sum() const override { return false; }

  std::unique_ptr<Request> start_all_reduce_sum(void* data, size_t count, DType dtype) override {
    GLIA_CHECK(dtype == DType::f32 || dtype == DType::f64,
               "all-reduce: dtype " << dtype_name(dtype) << " is not summed (f32 or f64)");
    // The gradients were written on the default stream: the NCCL stream waits for them.
    cuda(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize");
    check(ncclAllReduce(data, data, count, dtype == DType::f32 ? ncclFloat32 : ncclFloat64, ncclSum, comm_, stream_),
          "ncclAllReduce");
    struct Pending : Request {
      NcclCommunicator* self;
      size_t count;
      Pending(NcclCommunicator* s, size_t n) : self(s), count(n) {}
      void wait() override { self->wait_stream("all-reduce of " + std::to_string(count) + " values"); }
    };
    return std::make_unique<Pending>(this, count);
  }
  // Host data (bootstrap, flags, checkpoint state) over MPI; device data would need NCCL's
  // broadcast, which the trainer does not ask for (it broadcasts through host buffers).
  void broadcast(void* data, size_t bytes, int root) override { mpi_->broadcast(data, bytes, root); }
  void barrier() override { mpi_->barrier(); }
  [[noreturn]] void abort(int exit_code) override {
    if (comm_ != nullptr) ncclCommAbort(comm_);
    comm_ = nullptr;
    mpi_->abort(exit_code);
    std::_Exit(exit_code);  // not reached: MPI's abort ends the process
  }

 private:
  void check(ncclResult_t r, const char* what) const {
    GLIA_CHECK(r == ncclSuccess, "rank " << rank() << ": " << what << " failed: " << ncclGetErrorString(r));
  }
  void cuda(cudaError_t e, const char* what) const {
    GLIA_CHECK(e == cudaSuccess, "rank " << rank() << ": " << what << " failed: " << cudaGetErrorString(e));
  }
  void wait_stream(const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    while (true) {
      const cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) return;
      GLIA_CHECK(e == cudaErrorNotReady, "rank " << rank() << ": " << what << ": " << cudaGetErrorString(e));
      ncclResult_t async = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
      check(async, what.c_str());
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_ > 0 && waited >= timeout_) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        GLIA_FAIL("rank " << rank() << " of " << size() << ": " << what << " did not complete within " << timeout_
                          << " s (GLIA_COMM_TIMEOUT): another rank has died, hangs or is far behind");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::unique_ptr<Communicator> mpi_;
  double timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> mpi, double timeout_seconds) {
  return std::make_unique<NcclCommunicator>(std::move(mpi), timeout_seconds);
}

}  // namespace glia::parallel
