// The training loop shared by both tasks (Keras fit() semantics): epochs of batches
// (forward, loss, backward, gradient NaN/inf guard, optimizer step), validation each
// epoch, a learning-rate schedule (train/lr_schedule.h; default Keras ReduceLROnPlateau)
// and EarlyStopping on the task's validation metric, restore-best-weights, an optional
// second (fine-tuning) phase with its own optimizer and schedule, a time budget, a
// history row per epoch, progress callbacks, and a checkpoint (last + best) after every
// epoch from which `resume` continues bit-for-bit on the CPU,
// and an interrupt flag polled at every batch boundary (TrainingInterrupted).
//
// What differs between classification and segmentation (loss, metrics, what is
// monitored) is a TrainTask: train/classification_trainer.h, train/segmentation_trainer.h.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/device.h"
#include "kernels/error.h"
#include "layers/module.h"
#include "tensor/json.h"
#include "tensor/tensor.h"
#include "train/batch_source.h"
#include "train/callbacks.h"
#include "train/communicator.h"
#include "train/grad_scaler.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/precision.h"

namespace glia {

// Named scalar results of an evaluation, in a fixed order ("loss" first).
using Metrics = std::vector<std::pair<std::string, double>>;
double metric_value(const Metrics& metrics, const std::string& name);  // error naming it when absent

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual std::string name() const = 0;         // "classification" | "segmentation"
  virtual std::string metric_name() const = 0;  // the monitored metric, e.g. "accuracy"
  // Checks a batch fits the task (labels or masks present and in range).
  virtual void check_batch(const io::Batch& batch) const = 0;
  // Scalar loss of the model output for the batch (targets built on `device`).
  virtual Tensor loss(const Tensor& output, const io::Batch& batch, Device device) const = 0;
  // Metric accumulation over an epoch or an evaluation (host side, no autograd).
  virtual void reset() = 0;
  virtual void add(const Tensor& output, const io::Batch& batch) = 0;
  virtual double metric() const = 0;   // the value of metric_name() so far
  virtual Metrics metrics() const = 0;  // every metric so far (without loss)

  // Data-parallel training (TrainerOptions::comm). This rank's share of the loss of the
  // global batch its `batch` is a shard of (batch.global_n samples): summed over ranks,
  // the shares' values and gradients are those of the whole batch's loss. Default: loss()
  // * n / global_n, right for a loss that is a mean over samples.
  virtual Tensor shard_loss(const Tensor& output, const io::Batch& batch, Device device, Communicator& comm) const;
  // The accumulated state behind metrics() as values that add up across ranks (counts,
  // sums), and setting it back, so that metrics over shards combine exactly.
  virtual std::vector<double> accumulators() const;
  virtual void set_accumulators(const std::vector<double>& values);
};

struct HistoryRow {
  int epoch = 0;  // 1-based, as Keras prints it
  double lr = 0;
  double loss = 0, metric = 0;          // training, averaged over the epoch
  double val_loss = 0, val_metric = 0;  // NaN when there is no validation source
  double seconds = 0;                   // wall time of the epoch, validation included
  double images_per_second = 0;         // training images / training time
  int phase = 1;                        // 2: the fine-tuning phase (TrainerOptions::fine_tune)
  int64_t skipped_steps = 0;            // fp16: optimizer steps skipped on NaN/inf gradients
};
std::string history_csv_header(const std::string& metric_name);
std::string history_csv_row(const HistoryRow& row);

struct ProgressEvent {
  enum class Kind { epoch_begin, batch_end, epoch_end, message };
  Kind kind = Kind::message;
  int epoch = 0, epochs = 0;       // 1-based epoch
  size_t batch = 0, batches = 0;   // batches done in this epoch / per epoch
  double loss = 0, metric = 0;     // running averages of the epoch
  double images_per_second = 0, eta_seconds = 0, lr = 0;
  const HistoryRow* row = nullptr;  // epoch_end
  std::string message;              // message, and epoch_end notes ("lr -> 3e-4", ...)
};
using ProgressCallback = std::function<void(const ProgressEvent&)>;

struct TrainerOptions {
  int epochs = 50;
  Device device = Device::cpu;
  // Both callbacks watch "val_<task metric>" (mode max) unless this is false; then the
  // monitors in `schedule.plateau` and `early` are used as given.
  bool monitor_task_metric = true;
  LrScheduleOptions schedule;  // default: Keras plateau, the paper's factor 0.3, patience 2
  bool early_stopping = true;
  EarlyStopping::Options early;
  bool restore_best_weights = true;
  std::string checkpoint_dir;  // empty: no checkpoints; else <dir>/last.ckpt, <dir>/best.ckpt
  std::string model_name;      // recorded in checkpoints; a resume of another model is refused
  Json model_config = Json::object();  // recorded in checkpoints: what rebuilds the model
  bool check_gradients = true;  // the NaN/inf guard
  size_t max_batches = 0;       // per epoch, 0: all (quick runs)
  // A second phase after `epochs` epochs (or an earlier early stop): the best weights so
  // far are restored, `start` unfreezes what it wants and returns a fresh optimizer over
  // the now-trainable parameters (as Keras users recompile), and a fresh schedule of the
  // same options starts from that optimizer's rate for `fine_tune.epochs` more epochs.
  // Early stopping keeps its best value, so the run ends with the best weights of either
  // phase, and counts its patience from the phase's start. A resume inside the phase
  // calls `start` again before loading the optimizer's state.
  struct FineTune {
    int epochs = 0;  // 0: no second phase
    std::function<Optimizer&()> start;
  } fine_tune;
  // Time budget (0: none), covering every fit() of the run (the time recorded in the
  // checkpoint counts after a resume). An epoch starts only while time is left and, once
  // the phase has a mean epoch time m, while at least m/2 is left (so a run ends within
  // about half an epoch of the budget either way).
  double time_limit_seconds = 0;
  std::function<double()> clock;  // seconds; empty: the steady clock (tests inject one)
  // Mixed precision (train/precision.h): bf16/fp16 run the forward and the loss under
  // autocast (tensor/autocast.h); parameters and optimizer state stay f32. fp16 scales
  // the loss (train/grad_scaler.h): a step with NaN/inf gradients is skipped and counted
  // (HistoryRow::skipped_steps) instead of stopping the run. Recorded in checkpoints; a
  // resume with another precision is refused.
  Precision precision = Precision::fp32;
  GradScaler::Options loss_scale;  // fp16 only
  // When non-null and non-zero (a signal number, set by a signal handler), fit() and
  // evaluate() stop at the next batch boundary by throwing TrainingInterrupted.
  const std::atomic<int>* interrupt = nullptr;
  // Data-parallel training (train/communicator.h); null or one rank: a single process.
  // Every rank runs the same Trainer on its shard of each global batch (a BatchSource
  // giving io::Batch::global_n: io::LoaderOptions::shard_rank, or ShardedBatchSource):
  // the loss shares' gradients are summed before every step, so all ranks keep the same
  // weights; metrics are combined exactly; only rank 0 writes checkpoints. A checkpoint
  // records the number of ranks, and a resume with another number is refused.
  Communicator* comm = nullptr;
  // With comm: batch norm in training uses the statistics of the whole global batch
  // (tensor/cross_replica.h), so N ranks train like one process with the global batch.
  // Without it each rank normalises by its own shard's statistics (PyTorch DDP's default).
  bool sync_batch_norm = false;
};

// Thrown when TrainerOptions::interrupt became non-zero. An epoch in progress is
// abandoned: its updates are in the model in memory but in no checkpoint, and resume()
// repeats it from its start, so a resumed run stays bit-exact. What is on disk
// (last.ckpt, best.ckpt) is the state after `epochs_done` epochs.
class TrainingInterrupted : public Error {
 public:
  TrainingInterrupted(const std::string& message, int signal, int epochs_done, int epochs, size_t batch, size_t batches,
                      std::string phase, std::string checkpoint_dir)
      : Error(message), signal(signal), epochs_done(epochs_done), epochs(epochs), batch(batch), batches(batches),
        phase(std::move(phase)), checkpoint_dir(std::move(checkpoint_dir)) {}
  int signal;            // *TrainerOptions::interrupt
  int epochs_done;       // epochs finished and checkpointed
  int epochs;            // TrainerOptions::epochs
  size_t batch, batches;  // training batches done in the abandoned epoch, of batches
  std::string phase;     // "training", "validation" (both inside fit) or "evaluation"
  std::string checkpoint_dir;
};

enum class StopReason { epochs, early_stopping, time_limit, interrupted };
std::string stop_reason_name(StopReason reason);  // "epochs", "early_stopping", "time_limit", "interrupted"

struct FitResult {
  int epochs_run = 0;      // epochs completed in total (including those before a resume)
  bool stopped_early = false;
  bool interrupted = false;  // request_stop()
  int best_epoch = 0;        // 1-based, 0 when no validation
  double best_metric = 0;
  StopReason stopped = StopReason::epochs;
};

class Trainer {
 public:
  Trainer(nn::Module& model, Optimizer& optimizer, TrainTask& task, TrainerOptions options);

  void on_progress(ProgressCallback callback) { callback_ = std::move(callback); }

  // Trains from the current state (epoch 0, or where resume() left it) to options.epochs.
  FitResult fit(BatchSource& train, BatchSource* validation);
  // Loss and metrics of the model on `data` in inference mode. `hook` sees every batch
  // with the model output (host-addressable copy), e.g. for predictions or overlays.
  using BatchHook = std::function<void(const io::Batch& batch, const Tensor& output)>;
  Metrics evaluate(BatchSource& data, const BatchHook& hook = {});

  // Continues from <checkpoint_dir>/last.ckpt: model, optimizer, schedule, early
  // stopping, best weights, RNG, epoch, history. Error when there is none or it belongs
  // to another model or data order.
  void resume(const std::string& data_order_key = "");
  // Asks fit() to return after the current epoch (its checkpoint written), as if killed.
  void request_stop() { stop_requested_ = true; }

  const std::vector<HistoryRow>& history() const { return history_; }
  int epoch() const { return epoch_; }  // epochs completed
  // A new learning rate for the rest of the current phase (after resume(), before
  // fit()): the schedule's base rate, so the schedule does not overwrite it.
  void set_base_lr(double lr);
  int phase() const { return phase_; }  // 1, or 2 while fine-tuning
  const LrSchedule& schedule() const { return *schedule_; }
  const GradScaler* grad_scaler() const { return scaler_.get(); }  // null unless fp16

 private:
  double train_epoch(BatchSource& train, HistoryRow& row);
  double now() const;
  int last_epoch() const;  // where the current phase ends
  int planned_epochs() const;  // where the run ends if nothing stops it early (progress)
  void start_fine_tune();
  void restore_best_weights();
  void check_gradients(int epoch, size_t batch) const;
  // Throws TrainingInterrupted when the interrupt flag is set.
  void check_interrupt(const char* phase, size_t batch, size_t batches) const;
  [[noreturn]] void throw_interrupted(int signal, const char* phase, size_t batch, size_t batches) const;
  Json state_json(const std::string& order_key) const;
  void save_checkpoints(const std::string& order_key, bool best);
  void emit(ProgressEvent event) const;
  bool distributed() const { return options_.comm != nullptr && options_.comm->distributed(); }
  // Data parallel: the task's accumulators, loss sum and sample count summed over ranks,
  // and whether any rank saw the interrupt flag (its signal, else 0).
  // Null pointers leave those out (training's loss is already summed at every step).
  int combine_ranks(double* loss_sum, size_t* images);

  nn::Module& model_;
  Optimizer* optimizer_;  // the phase's: fine-tuning replaces it
  TrainTask& task_;
  TrainerOptions options_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<GradScaler> scaler_;  // fp16 only
  EarlyStopping early_;
  ProgressCallback callback_;
  std::vector<HistoryRow> history_;
  std::vector<std::pair<std::string, Tensor>> best_state_;  // copies of the best weights
  int epoch_ = 0;
  int phase_ = 1, phase_start_ = 0;  // phase_start_: epochs completed when the phase began
  double elapsed_ = 0;               // seconds of fit() recorded so far (the time budget's)
  std::string resumed_order_key_;
  bool resumed_ = false;
  bool fitting_ = false;  // inside fit(): evaluate() is validation
  std::atomic<bool> stop_requested_{false};
};

// Tensor [n, c, h, w] (f32, on `device`) of a batch's images.
Tensor batch_images(const io::Batch& batch, Device device);

}  // namespace glia
