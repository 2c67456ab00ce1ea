#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>

#include "kernels/error.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/finite.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/batch_upload.h"
#include "train/checkpoint.h"
#include "train/data_parallel.h"
#include "train/finite_output.h"
#include "train/trainer_checkpoint.h"

namespace glia {
namespace {

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

std::string layer_of(const std::string& parameter) {
  const auto dot = parameter.rfind('.');
  return dot == std::string::npos ? std::string("(top level)") : parameter.substr(0, dot);
}

// First non-finite value of a float tensor, as "NaN" / "+inf" / "-inf"; empty when all finite.
std::string first_non_finite(const Tensor& t) {
  Tensor host = t;
  if (!host_addressable(t.device()) || !t.is_contiguous()) host = t.to(Device::cpu).contiguous();
  const int64_t i = glia::first_non_finite(host.data_ptr(), host.dtype(), host.numel());
  return i < 0 ? "" : non_finite_name(host.data_ptr(), host.dtype(), i);
}

std::string fmt(double v, int precision = 4) {
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

}  // namespace

Tensor TrainTask::shard_loss(const Tensor& output, const io::Batch& batch, Device device, Communicator&) const {
  GLIA_CHECK(batch.global_n >= batch.n && batch.n > 0,
             "data-parallel " << name() << " loss: a shard of " << batch.n << " samples of a global batch of "
                              << batch.global_n);
  return loss(output, batch, device) * (static_cast<double>(batch.n) / batch.global_n);
}

std::vector<double> TrainTask::accumulators() const {
  GLIA_FAIL("the " << name() << " task cannot combine its metrics across ranks (no accumulators())");
}

void TrainTask::set_accumulators(const std::vector<double>&) {
  GLIA_FAIL("the " << name() << " task cannot combine its metrics across ranks (no set_accumulators())");
}

double metric_value(const Metrics& metrics, const std::string& name) {
  for (const auto& m : metrics)
    if (m.first == name) return m.second;
  std::string have;
  for (const auto& m : metrics) have += (have.empty() ? "" : ", ") + m.first;
  GLIA_FAIL("metric '" << name << "' was not computed (have: " << have << ")");
}

std::string stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::epochs: return "epochs";
    case StopReason::early_stopping: return "early_stopping";
    case StopReason::time_limit: return "time_limit";
    case StopReason::interrupted: return "interrupted";
  }
  return "?";
}

std::string history_csv_header(const std::string& metric_name) {
  return "epoch,lr,loss," + metric_name + ",val_loss,val_" + metric_name +
         ",seconds,images_per_second,phase,skipped_steps";
}

std::string history_csv_row(const HistoryRow& r) {
  std::ostringstream s;
  s << std::setprecision(9) << r.epoch << ',' << r.lr << ',' << r.loss << ',' << r.metric << ',' << r.val_loss << ','
    << r.val_metric << ',' << std::setprecision(5) << r.seconds << ',' << r.images_per_second << ',' << r.phase << ','
    << r.skipped_steps;
  return s.str();
}

Tensor batch_images(const io::Batch& batch, Device device) {
  const size_t expected = static_cast<size_t>(batch.n) * batch.c * batch.h * batch.w;
  GLIA_CHECK(batch.n > 0 && batch.images.size() == expected,
             "batch of " << batch.n << "x" << batch.c << "x" << batch.h << "x" << batch.w << " has "
                         << batch.images.size() << " image values, expected " << expected);
  return upload_batch_values(batch.images, {batch.n, batch.c, batch.h, batch.w}, device);
}

Trainer::Trainer(nn::Module& model, Optimizer& optimizer, TrainTask& task, TrainerOptions options)
    : model_(model),
      optimizer_(&optimizer),
      task_(task),
      options_([&] {
        TrainerOptions o = std::move(options);
        if (o.monitor_task_metric) {
          o.schedule.plateau.monitor.name = o.early.monitor.name = "val_" + task.metric_name();
          o.schedule.plateau.monitor.mode = o.early.monitor.mode = MonitorMode::max;
        }
        GLIA_CHECK(o.epochs >= 0, "trainer: epochs " << o.epochs << " must be >= 0");
        GLIA_CHECK(o.fine_tune.epochs >= 0 && (o.fine_tune.epochs == 0 || o.fine_tune.start),
                   "trainer: fine-tuning epochs " << o.fine_tune.epochs << " need a start function");
        GLIA_CHECK(o.time_limit_seconds >= 0, "trainer: time limit " << o.time_limit_seconds << " s must be >= 0");
        return o;
      }()),
      schedule_(std::make_unique<LrSchedule>(options_.schedule, optimizer.lr())),
      scaler_(options_.precision == Precision::fp16 ? std::make_unique<GradScaler>(options_.loss_scale) : nullptr),
      early_(options_.early) {}

double Trainer::now() const { return options_.clock ? options_.clock() : now_seconds(); }

int Trainer::combine_ranks(double* loss_sum, size_t* images) {
  std::vector<double> v = task_.accumulators();
  const size_t k = v.size();
  const int signal = options_.interrupt ? options_.interrupt->load() : 0;
  // The loss sum and count (when asked), rank 0's signal and how many ranks saw one: one sum.
  v.push_back(loss_sum ? *loss_sum : 0);
  v.push_back(images ? static_cast<double>(*images) : 0);
  v.push_back(options_.comm->rank() == 0 ? signal : 0);
  v.push_back(signal != 0 ? 1 : 0);
  options_.comm->all_reduce_sum(v);
  task_.set_accumulators(std::vector<double>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k)));
  if (loss_sum) *loss_sum = v[k];
  if (images) *images = static_cast<size_t>(v[k + 1]);
  if (v[k + 3] == 0) return 0;
  return v[k + 2] != 0 ? static_cast<int>(v[k + 2]) : (signal != 0 ? signal : 15);
}

int Trainer::last_epoch() const {
  return phase_ == 1 ? options_.epochs : phase_start_ + options_.fine_tune.epochs;
}

int Trainer::planned_epochs() const {
  return (phase_ == 1 ? options_.epochs : phase_start_) + options_.fine_tune.epochs;
}

void Trainer::emit(ProgressEvent event) const {
  if (callback_) callback_(event);
}

void Trainer::check_gradients(int epoch, size_t batch) const {
  for (const auto& [name, param] : optimizer_->params()) {
    const Tensor grad = param.grad();
    if (!grad.defined()) continue;
    const std::string bad = first_non_finite(grad);
    GLIA_CHECK(bad.empty(), "training stopped: the gradient of parameter '"
                                << name << "' (layer " << layer_of(name) << ", shape " << shape_str(param.sizes())
                                << ") has a " << bad << " value at epoch " << epoch << ", batch " << batch
                                << "; lower the learning rate or check the input data");
  }
}

void Trainer::check_interrupt(const char* phase, size_t batch, size_t batches) const {
  const int signal = options_.interrupt ? options_.interrupt->load() : 0;
  if (signal != 0) throw_interrupted(signal, phase, batch, batches);
}

void Trainer::throw_interrupted(int signal, const char* phase, size_t batch, size_t batches) const {
  std::ostringstream m;
  m << "interrupted by signal " << signal << " during " << phase;
  if (fitting_) {
    m << " of epoch " << epoch_ + 1 << "/" << options_.epochs;
    if (std::string(phase) == "training") m << " after " << batch << " of " << batches << " batches";
  }
  throw TrainingInterrupted(m.str(), signal, epoch_, options_.epochs, batch, batches, phase, options_.checkpoint_dir);
}

double Trainer::train_epoch(BatchSource& train, HistoryRow& row) {
  model_.train(true);
  task_.reset();
  train.start_epoch(static_cast<uint64_t>(epoch_));
  size_t batches = train.batches_per_epoch();
  if (options_.max_batches > 0 && options_.max_batches < batches) batches = options_.max_batches;
  const double start = now();
  double loss_sum = 0;
  size_t images = 0, done = 0;
  io::Batch batch;
  // Synchronised batch norm: installed for the epoch's forwards and backwards (this thread).
  std::optional<SyncBatchNormScope> sync_bn;
  if (distributed() && options_.sync_batch_norm) sync_bn.emplace(batch_norm_reducer_over(*options_.comm));
  while (done < batches) {
    // At a batch boundary: a step is never cut in half. Data parallel: every rank must stop
    // at the same boundary, so the flag travels with the step's loss (below).
    if (!distributed()) check_interrupt("training", done, batches);
    if (!train.next(batch)) break;
    task_.check_batch(batch);
    if (distributed())
      GLIA_CHECK(batch.global_n > 0 && batch.n > 0,
                 "data-parallel training: rank " << options_.comm->rank() << " of " << options_.comm->size()
                                                 << " got " << batch.n << " samples of batch " << done + 1
                                                 << (batch.global_n > 0 ? " (global batch of " + std::to_string(batch.global_n) + ")"
                                                                        : std::string(" (the source does not shard)"))
                                                 << "; every batch, the last included, needs at least one sample per "
                                                    "rank: a larger --batch-size or fewer ranks");
    schedule_->apply(*optimizer_);
    optimizer_->zero_grad();
    const Tensor x = batch_images(batch, options_.device);
    Tensor output;
    double loss_value = 0;
    bool take_step = true;  // false: fp16 overflow, the scaler skips this step
    const int samples = distributed() ? batch.global_n : batch.n;  // of the global batch
    if (!distributed()) {
      Tensor loss;
      {
        AutocastGuard autocast(precision_dtype(options_.precision), options_.precision != Precision::fp32);
        output = model_(x);
        loss = task_.loss(output, batch, options_.device);
      }
      loss_value = loss.item<double>();
      GLIA_CHECK(std::isfinite(loss_value), "training stopped: the " << task_.name() << " loss is " << loss_value
                                                                      << " at epoch " << row.epoch << ", batch "
                                                                      << done + 1 << " (" << batch.n << " images)");
      (scaler_ ? scaler_->scale_loss(loss) : loss).backward();
    } else {
      Tensor share;
      {
        AutocastGuard autocast(precision_dtype(options_.precision), options_.precision != Precision::fp32);
        output = model_(x);
        share = task_.shard_loss(output, batch, options_.device, *options_.comm);
      }
      // The gradients' all-reduce starts bucket by bucket during the backward.
      GradientBucketSync gradient_sync(*options_.comm, optimizer_->params());
      {
        const GradReadyScope overlap(&gradient_sync);
        (scaler_ ? scaler_->scale_loss(share) : share).backward();
      }
      std::vector<double> step{share.item<double>(), 0, 0};
      const int signal = options_.interrupt ? options_.interrupt->load() : 0;
      step[1] = options_.comm->rank() == 0 ? signal : 0;
      step[2] = signal != 0 ? 1 : 0;
      options_.comm->all_reduce_sum(step);
      if (step[2] > 0) throw_interrupted(step[1] != 0 ? static_cast<int>(step[1]) : (signal ? signal : 15), "training", done, batches);
      loss_value = step[0];
      GLIA_CHECK(std::isfinite(loss_value), "training stopped: the " << task_.name() << " loss is " << loss_value
                                                                      << " at epoch " << row.epoch << ", batch "
                                                                      << done + 1 << " (" << batch.global_n
                                                                      << " images on " << options_.comm->size()
                                                                      << " ranks)");
      gradient_sync.finish();
    }
    if (scaler_) {  // fp16: NaN/inf gradients are an overflow of the scaled loss: skip, not stop
      // (after the all-reduce: every rank sees the same sums, so all skip together)
      take_step = scaler_->unscale(optimizer_->params());
      scaler_->update(!take_step);
      if (!take_step) ++row.skipped_steps;
    } else if (options_.check_gradients) {
      check_gradients(row.epoch, done + 1);
    }
    if (take_step) optimizer_->step();
    schedule_->step_done();
    {
      NoGradGuard no_grad;
      task_.add(output.detach(), batch);
    }
    loss_sum += loss_value * samples;
    images += static_cast<size_t>(samples);
    ++done;

    ProgressEvent e;
    e.kind = ProgressEvent::Kind::batch_end;
    e.epoch = row.epoch;
    e.epochs = planned_epochs();
    e.batch = done;
    e.batches = batches;
    e.loss = loss_sum / static_cast<double>(images);
    e.metric = task_.metric();
    const double elapsed = now() - start;
    e.images_per_second = elapsed > 0 ? images / elapsed : 0;
    e.eta_seconds = elapsed / done * static_cast<double>(batches - done);
    e.lr = optimizer_->lr();
    emit(e);
  }
  GLIA_CHECK(images > 0, "training: the training data gave no batch in epoch " << row.epoch);
  if (distributed()) {
    // The epoch's metric over every rank's shards; the weights are the same everywhere,
    // the buffers (batch-norm running statistics, per-rank without --sync-bn) become rank 0's.
    const int signal = combine_ranks(nullptr, nullptr);
    if (signal != 0) throw_interrupted(signal, "training", done, batches);
    broadcast_tensors(*options_.comm, model_.named_buffers(), 0);
    // Dropout draws as many numbers as the rank has samples: rank 0's generator goes on
    // everywhere, as the checkpoint's does after a resume.
    GeneratorState rng = default_generator().state();
    options_.comm->broadcast_value(rng);
    default_generator().set_state(rng);
  }
  const double seconds = now() - start;
  row.loss = loss_sum / static_cast<double>(images);
  row.metric = task_.metric();
  row.images_per_second = seconds > 0 ? images / seconds : 0;
  return seconds;
}

Metrics Trainer::evaluate(BatchSource& data, const BatchHook& hook) {
  NoGradGuard no_grad;
  const bool was_training = model_.training_flag();
  model_.eval();
  task_.reset();
  data.start_epoch(0);
  double loss_sum = 0;
  size_t images = 0;
  io::Batch batch;
  while (true) {
    // Data parallel: ranks may hold different numbers of batches; the flag is combined after.
    if (!distributed()) check_interrupt(fitting_ ? "validation" : "evaluation", 0, 0);
    if (!data.next(batch)) break;
    task_.check_batch(batch);
    const Tensor input = batch_images(batch, options_.device);
    AutocastGuard autocast(precision_dtype(options_.precision), options_.precision != Precision::fp32);
    const Tensor output = model_(input);
    check_finite_output(model_, input, output, "evaluation");
    loss_sum += task_.loss(output, batch, options_.device).item<double>() * batch.n;
    images += static_cast<size_t>(batch.n);
    task_.add(output, batch);
    if (hook) hook(batch, host_addressable(output.device()) ? output : output.to(Device::cpu));
  }
  model_.train(was_training);
  if (distributed()) {
    const int signal = combine_ranks(&loss_sum, &images);
    if (signal != 0) throw_interrupted(signal, fitting_ ? "validation" : "evaluation", 0, 0);
  }
  GLIA_CHECK(images > 0, "evaluation: the data gave no batch");
  Metrics out{{"loss", loss_sum / static_cast<double>(images)}};
  for (auto& m : task_.metrics()) out.push_back(m);
  return out;
}

void Trainer::restore_best_weights() {
  NoGradGuard no_grad;
  const auto current = model_.state_dict();
  for (size_t i = 0; i < current.size(); ++i) current[i].second.copy_(best_state_[i].second);
}

void Trainer::start_fine_tune() {
  // Phase 2 starts from phase 1's best weights, as Keras users fine-tune after their
  // head-only fit() restored its best.
  if (options_.restore_best_weights && !best_state_.empty()) restore_best_weights();
  optimizer_ = &options_.fine_tune.start();
  phase_ = 2;
  phase_start_ = epoch_;
  schedule_ = std::make_unique<LrSchedule>(options_.schedule, optimizer_->lr());
  early_.restart_patience();
}

FitResult Trainer::fit(BatchSource& train, BatchSource* validation) {
  struct Fitting {  // evaluate() inside fit() is validation, also when an exception leaves
    bool& flag;
    explicit Fitting(bool& f) : flag(f) { flag = true; }
    ~Fitting() { flag = false; }
  } fitting(fitting_);
  FitResult result;
  stop_requested_ = false;
  const std::string order_key = train.order_key();
  if (resumed_)
    GLIA_CHECK(resumed_order_key_ == order_key,
               "resume: the checkpoint was written with data order '" << resumed_order_key_
                                                                      << "' but this run's data order is '"
                                                                      << order_key << "' (use the same --seed and data)");
  const std::string monitored = "val_" + task_.metric_name();
  size_t batches = train.batches_per_epoch();
  if (options_.max_batches > 0 && options_.max_batches < batches) batches = options_.max_batches;
  if (distributed()) {
    // Every rank must take the same steps, from the same weights.
    uint64_t rank0_batches = batches;
    options_.comm->broadcast_value(rank0_batches);
    GLIA_CHECK(rank0_batches == batches, "data-parallel training: rank " << options_.comm->rank() << " has " << batches
                                                                      << " batches per epoch, rank 0 has "
                                                                      << rank0_batches << " (same data on every rank?)");
    broadcast_tensors(*options_.comm, model_.state_dict(), 0);
  }
  const int64_t steps = std::max<int64_t>(1, static_cast<int64_t>(batches));
  auto plan = [&] {
    schedule_->plan(steps, phase_ == 1 ? options_.epochs : options_.fine_tune.epochs);
    schedule_->apply(*optimizer_);
  };
  // A head-only run resumed with a fine-tuning phase added goes straight to it.
  if (phase_ == 1 && options_.fine_tune.epochs > 0 && epoch_ >= options_.epochs) start_fine_tune();
  plan();
  const double clock_start = now() - elapsed_;
  while (epoch_ < last_epoch()) {
    if (options_.time_limit_seconds > 0) {
      const double used = now() - clock_start, limit = options_.time_limit_seconds;
      double phase_seconds = 0;
      int phase_epochs = 0;
      for (const auto& r : history_)
        if (r.phase == phase_) phase_seconds += r.seconds, ++phase_epochs;
      const double mean = phase_epochs > 0 ? phase_seconds / phase_epochs : 0;
      int out_of_time = used >= limit || used + mean / 2 > limit;
      if (distributed()) options_.comm->broadcast_value(out_of_time);  // rank 0's clock decides for all
      if (out_of_time) {
        result.stopped = StopReason::time_limit;
        ProgressEvent e;
        e.message = "time limit: " + fmt(used / 60, 3) + " of " + fmt(limit / 60, 3) + " minutes used" +
                    (mean > 0 ? " (mean epoch " + fmt(mean, 3) + " s)" : std::string()) + "; no further epoch";
        emit(e);
        break;
      }
    }
    HistoryRow row;
    row.epoch = epoch_ + 1;
    row.phase = phase_;
    row.lr = schedule_->lr();
    ProgressEvent begin;
    begin.kind = ProgressEvent::Kind::epoch_begin;
    begin.epoch = row.epoch;
    begin.epochs = planned_epochs();
    begin.batches = train.batches_per_epoch();
    begin.lr = row.lr;
    emit(begin);

    const double start = now();
    train_epoch(train, row);  // data parallel: ends with every rank's buffers equal
    row.val_loss = row.val_metric = std::numeric_limits<double>::quiet_NaN();
    std::string notes;
    bool stop = false, best = false;
    if (validation) {
      const Metrics m = evaluate(*validation);
      row.val_loss = metric_value(m, "loss");
      row.val_metric = metric_value(m, task_.metric_name());
      GLIA_CHECK(std::isfinite(row.val_loss), "training stopped: validation loss is " << row.val_loss << " at epoch "
                                                                                        << row.epoch);
      if (options_.early_stopping || options_.restore_best_weights) {
        stop = early_.step(row.val_metric, epoch_) && options_.early_stopping;
        best = early_.improved_last_step();
        if (best) notes += monitored + " improved to " + fmt(row.val_metric) + "; ";
      }
      const double before = schedule_->lr();
      if (schedule_->end_epoch(row.val_metric)) notes += "lr " + fmt(before) + " -> " + fmt(schedule_->lr()) + "; ";
    }
    schedule_->apply(*optimizer_);  // the checkpoint records the next step's rate
    if (row.skipped_steps > 0)
      notes += "fp16: " + std::to_string(row.skipped_steps) + " steps skipped on NaN/inf gradients, loss scale " +
               fmt(scaler_->scale()) + "; ";
    row.seconds = now() - start;
    history_.push_back(row);
    ++epoch_;
    if (best && options_.restore_best_weights) {
      best_state_.clear();
      for (const auto& [name, t] : model_.state_dict()) best_state_.emplace_back(name, t.detach().clone());
    }
    if (stop) notes += "early stopping: no improvement of " + monitored + " for " +
                       std::to_string(options_.early.patience) + " epochs; ";
    // The phase change comes before the checkpoint, so a resume from it is in phase 2.
    if (phase_ == 1 && options_.fine_tune.epochs > 0 && (stop || epoch_ >= last_epoch())) {
      start_fine_tune();
      plan();
      stop = false;
      notes += "phase 2: fine-tuning from the best weights at lr " + fmt(optimizer_->lr()) + " for " +
               std::to_string(options_.fine_tune.epochs) + " epochs; ";
    }
    elapsed_ = now() - clock_start;
    if (distributed()) options_.comm->broadcast_value(elapsed_);  // the checkpoint's, and the budget's
    // Data parallel: rank 0 alone writes (every rank holds the same state).
    if (!options_.checkpoint_dir.empty() && (!distributed() || options_.comm->rank() == 0))
      save_checkpoints(order_key, best);

    ProgressEvent end;
    end.kind = ProgressEvent::Kind::epoch_end;
    end.epoch = row.epoch;
    end.epochs = planned_epochs();
    end.row = &history_.back();
    end.lr = optimizer_->lr();
    end.message = notes.empty() ? notes : notes.substr(0, notes.size() - 2);
    emit(end);
    if (stop) {
      result.stopped = StopReason::early_stopping;
      result.stopped_early = true;
      break;
    }
    if (distributed()) {
      bool requested = stop_requested_;
      options_.comm->broadcast_value(requested);
      stop_requested_ = requested;
    }
    if (stop_requested_) {
      result.stopped = StopReason::interrupted;
      result.interrupted = true;
      break;
    }
  }
  result.epochs_run = epoch_;
  result.best_epoch = early_.best_epoch() + 1;
  result.best_metric = early_.best();
  if (!result.interrupted && options_.restore_best_weights && !best_state_.empty()) {
    restore_best_weights();
    ProgressEvent e;
    e.message = "restored the weights of epoch " + std::to_string(result.best_epoch) + " (" + monitored + " " +
                fmt(result.best_metric) + ")";
    emit(e);
  }
  return result;
}

}  // namespace glia
