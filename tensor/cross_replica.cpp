// The thread's batch-norm reducer (tensor/cross_replica.h).
#include "tensor/cross_replica.h"

#include <utility>

namespace glia {
namespace {
thread_local std::shared_ptr<CrossReplicaReducer> t_batch_norm_reducer;
}

std::shared_ptr<CrossReplicaReducer> batch_norm_reducer() { return t_batch_norm_reducer; }

SyncBatchNormScope::SyncBatchNormScope(std::shared_ptr<CrossReplicaReducer> reducer)
    : previous_(std::exchange(t_batch_norm_reducer, std::move(reducer))) {}

SyncBatchNormScope::~SyncBatchNormScope() { t_batch_norm_reducer = std::move(previous_); }

}  // namespace glia
