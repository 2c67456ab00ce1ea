#include "io/loader.h"

#include <chrono>
#include <numeric>

#include "kernels/error.h"

namespace glia::io {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Loader::Loader(std::shared_ptr<const ExampleSource> source, LoaderOptions options, std::vector<size_t> order)
    : source_(std::move(source)), options_(options), base_order_(std::move(order)),
      log_(options.skip_bad, options.quiet) {
  GLIA_CHECK(source_ != nullptr, "Loader: null example source");
  GLIA_CHECK(options_.batch_size > 0, "Loader: batch size " << options_.batch_size << " must be positive");
  GLIA_CHECK(options_.workers >= 0, "Loader: workers " << options_.workers << " must be >= 0");
  GLIA_CHECK(options_.prefetch >= 1, "Loader: prefetch " << options_.prefetch << " must be >= 1");
  GLIA_CHECK(options_.shard_count >= 1 && options_.shard_rank >= 0 && options_.shard_rank < options_.shard_count,
             "Loader: shard " << options_.shard_rank << " of " << options_.shard_count);
  if (base_order_.empty()) {
    base_order_.resize(source_->size());
    std::iota(base_order_.begin(), base_order_.end(), size_t{0});
  }
  for (size_t i : base_order_)
    GLIA_CHECK(i < source_->size(), "Loader: order names sample " << i << " of a source of " << source_->size());
  for (int t = 0; t < options_.workers; ++t) workers_.emplace_back([this] { worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
bool merges_last(size_t n, const LoaderOptions& o) {
  const size_t b = static_cast<size_t>(o.batch_size);
  return o.merge_single_last && !o.drop_last && n > b && n % b == 1;
}
}  // namespace

size_t smallest_batch(size_t n, const LoaderOptions& o) {
  const size_t b = static_cast<size_t>(o.batch_size);
  if (n == 0 || b == 0) return 0;
  if (n < b) return o.drop_last ? 0 : n;
  if (n % b == 0 || o.drop_last || merges_last(n, o)) return b;
  return n % b;
}

size_t Loader::batches_per_epoch() const {
  size_t n = base_order_.size(), b = static_cast<size_t>(options_.batch_size);
  if (merges_last(n, options_)) return n / b;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<size_t> Loader::epoch_order(uint64_t epoch) const {
  std::vector<size_t> order = base_order_;
  if (options_.shuffle) {
    Rng rng(options_.seed, RngDomain::shuffle, epoch, 0);
    shuffle_in_place(order, rng);
  }
  return order;
}

void Loader::start_epoch(uint64_t epoch) {
  auto order = std::make_shared<const std::vector<size_t>>(epoch_order(epoch));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    active_ = true;
    epoch_ = epoch;
    order_ = order;
    num_batches_ = batches_per_epoch();
    next_to_build_ = next_to_hand_out_ = 0;
    ready_.clear();
    epoch_start_ = now_seconds();
    stats_ = LoaderStats{};
  }
  cv_.notify_all();
}

Batch Loader::build_batch(uint64_t epoch, size_t number, const std::vector<size_t>& order) {
  const ImagePipeline& p = source_->pipeline();
  size_t begin = number * options_.batch_size;
  size_t end = std::min(order.size(), begin + options_.batch_size);
  if (merges_last(order.size(), options_) && number + 1 == batches_per_epoch()) end = order.size();
  int global_n = 0;
  if (options_.shard_count > 1) {  // this rank's part of the global batch [begin, end)
    const size_t n = end - begin, k = static_cast<size_t>(options_.shard_count),
                 r = static_cast<size_t>(options_.shard_rank);
    global_n = static_cast<int>(n);
    end = begin + (r + 1) * n / k;
    begin += r * n / k;
  }
  const size_t image_size = static_cast<size_t>(p.channels) * p.height * p.width;
  const size_t mask_size = static_cast<size_t>(p.height) * p.width;
  const bool masks = source_->has_masks();
  Batch b;
  b.c = p.channels, b.h = p.height, b.w = p.width;
  b.epoch = epoch, b.number = number;
  b.global_n = global_n;
  b.images.resize((end - begin) * image_size);
  if (masks) b.masks.resize((end - begin) * mask_size);
  for (size_t pos = begin; pos < end; ++pos) {
    size_t index = order[pos];
    size_t slot = static_cast<size_t>(b.n);
    Rng rng(options_.seed, RngDomain::augment, epoch, pos);
    int64_t label = -1;
    try {
      source_->load(index, rng, b.images.data() + slot * image_size, masks ? b.masks.data() + slot * mask_size : nullptr,
                    &label);
    } catch (const Error& e) {
      log_.bad(e.what());  // rethrows unless skip_bad; then the slot is reused
      continue;
    }
    b.labels.push_back(label);
    b.paths.push_back(source_->path(index));
    b.indices.push_back(index);
    ++b.n;
  }
  b.images.resize(static_cast<size_t>(b.n) * image_size);
  if (masks) b.masks.resize(static_cast<size_t>(b.n) * mask_size);
  return b;
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] {
      return stop_ || (active_ && next_to_build_ < num_batches_ &&
                       next_to_build_ < next_to_hand_out_ + static_cast<size_t>(options_.prefetch));
    });
    if (stop_) return;
    size_t number = next_to_build_++;
    uint64_t generation = generation_, epoch = epoch_;
    auto order = order_;
    lock.unlock();
    Result result;
    try {
      result.batch = build_batch(epoch, number, *order);
    } catch (...) {
      result.error = std::current_exception();
    }
    lock.lock();
    if (generation == generation_) {
      ready_[number] = std::move(result);
      cv_.notify_all();
    }
  }
}

bool Loader::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  GLIA_CHECK(active_, "Loader::next called before start_epoch");
  for (;;) {
    if (next_to_hand_out_ >= num_batches_) return false;
    Result result;
    const double wait_start = now_seconds();
    if (workers_.empty()) {
      size_t number = next_to_hand_out_;
      auto order = order_;
      lock.unlock();
      try {
        result.batch = build_batch(epoch_, number, *order);
      } catch (...) {
        result.error = std::current_exception();
      }
      lock.lock();
    } else {
      cv_.wait(lock, [this] { return ready_.count(next_to_hand_out_) > 0; });
      auto it = ready_.find(next_to_hand_out_);
      result = std::move(it->second);
      ready_.erase(it);
    }
    ++next_to_hand_out_;
    stats_.wait_seconds += now_seconds() - wait_start;
    lock.unlock();
    cv_.notify_all();  // room in the queue for one more batch
    if (result.error) std::rethrow_exception(result.error);
    lock.lock();
    stats_.skipped = log_.count();
    stats_.seconds = now_seconds() - epoch_start_;
    if (result.batch.n == 0) continue;  // every sample of it was skipped
    stats_.images += static_cast<size_t>(result.batch.n);
    ++stats_.batches;
    batch = std::move(result.batch);
    return true;
  }
}

LoaderStats Loader::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace glia::io
