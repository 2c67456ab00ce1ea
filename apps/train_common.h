// Pieces shared by the train/eval commands of both tasks (apps/classifier_commands.cpp,
// apps/segmenter_commands.cpp).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/app.h"
#include "apps/loader_source.h"
#include "io/sources.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace glia::app {

// The paper's training augmentation: rotation +-15 degrees, flips, zoom 0.9-1.1.
io::Augmentation paper_augmentation();
io::ImagePipeline pipeline(int size, bool augment);
std::unique_ptr<LoaderSource> make_loader(std::shared_ptr<const io::ExampleSource> source, int batch_size,
                                          bool shuffle, int workers, uint64_t seed, bool skip_bad,
                                          std::vector<size_t> order = {});
// The decoded-image cache of a run (--cache, GLIA_CACHE_MB; io/decoded_cache.h) for
// `images` distinct images at the pipeline's size, shared by the run's training,
// validation and final validation evaluation sources; null when off. Says what it
// chose (stdout unless --quiet; a fallback of --cache auto to off on stderr always).
// Throws glia::Error on a malformed GLIA_CACHE_MB.
std::shared_ptr<io::DecodedCache> make_cache(const TrainOptions& o, size_t images, const io::ImagePipeline& p,
                                             bool masks);
// Every k-th element so that at most `limit` remain (0: all); deterministic, keeps order.
template <class T>
std::vector<T> thin(const std::vector<T>& v, size_t limit) {
  if (limit == 0 || v.size() <= limit) return v;
  std::vector<T> out;
  for (size_t i = 0; i < limit; ++i) out.push_back(v[i * v.size() / limit]);
  return out;
}
// Adam (L2 or decoupled weight decay) over the parameters that require gradients.
std::unique_ptr<Optimizer> make_adam(nn::Module& model, double lr, double weight_decay, bool decoupled);
void check_train_options(const TrainOptions& o);
// --precision bf16 / fp16 needs 16-bit convolution and matrix-product kernels on the
// device (sim, and cuda's hand-written path, have bf16 ones only): a tiny product of each
// runs there first, so a missing kernel is refused before the run dir is touched.
void check_precision_on_device(const std::string& precision, Device device);
// eval-cls/eval-seg flags, before anything is read or written: --split, --batch-size,
// --workers and the fractions when given.
void check_eval_options(const EvalOptions& o);
// --lr-schedule and its flags, --time-limit and the fine-tuning flags (UsageError).
void check_schedule_options(const TrainOptions& o);
// JSON of the options, for run.json.
std::string train_config_json(const TrainOptions& o, const ModelSpec& spec);
// history.csv and curves.png from the trainer's history.
void write_history(const std::string& dir, const std::vector<HistoryRow>& history, const std::string& metric);
double mean_epoch_seconds(const std::vector<HistoryRow>& history);
void print_metrics(const std::string& title, const Metrics& metrics, bool quiet);

// Up front: every batch of the training loader (training_samples samples, make_loader's
// batching) must give batch norm more than one value per channel at the model's smallest
// feature map. UsageError naming --batch-size and --image-size and what would work.
// Data parallel: also every rank needs one image of every batch, and without --sync-bn
// batch norm sees only the rank's share.
void check_batch_norm_batches(const ModelSpec& spec, int batch_size, size_t training_samples, bool sync_bn = false);

// --resume compares this command's run config (train_config_json) with the run's
// (<dir>/run.json "config"). A difference in a flag that may change (--epochs, --lr,
// --patience, --max-batches, --device, --data, --skip-bad, --time-limit, --cache) is returned, to
// be applied and recorded in run.json; any other difference is a UsageError naming each
// flag with the run's value and the new one.
struct ResumeChange {
  std::string key, flag;
  Json from, to;
};
std::vector<ResumeChange> resume_changes(const std::string& dir, const std::string& config_json);

// The training split a checkpoint records (its model_config "split": fractions, seed and
// the validation/test members, written by train-cls/train-seg), or null for checkpoints
// written before glia recorded it.
Json checkpoint_split(const std::string& checkpoint);
// A split setting for evaluation: the recorded value when there is a record (an explicit
// flag must equal it: UsageError naming both), else the flag, else `fallback`.
double split_setting(const Json& record, const std::string& key, const std::optional<double>& flag, double fallback,
                     const std::string& checkpoint);
uint64_t split_seed(const Json& record, const std::optional<uint64_t>& flag, const std::string& checkpoint);

// The trainer settings both train commands derive from their flags and model.
TrainerOptions trainer_options(const TrainOptions& o, const ModelSpec& spec, Device device);
// Resumes from last.ckpt when asked (applying and recording changed flags, see
// resume_changes; --epochs below the epochs done is refused), fits, writes history.csv/curves.png, and starts the
// run's metrics.json object (model, epochs, best epoch, early stop, seconds per epoch).
RunResult fit_run(Trainer& trainer, LoaderSource& train, LoaderSource* val,
                  const TrainOptions& o, const ModelSpec& spec, const std::string& metric, Json& metrics);

}  // namespace glia::app
