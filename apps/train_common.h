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
void check_train_options(const TrainOptions& o);  // includes check_schedule_options
// --lr-schedule and its flags, --time-limit and the fine-tuning flags (UsageError).
void check_schedule_options(const TrainOptions& o);
// JSON of the options, for run.json.
std::string train_config_json(const TrainOptions& o, const ModelSpec& spec);
// history.csv and curves.png from the trainer's history.
void write_history(const std::string& dir, const std::vector<HistoryRow>& history, const std::string& metric);
double mean_epoch_seconds(const std::vector<HistoryRow>& history);
void print_metrics(const std::string& title, const Metrics& metrics, bool quiet);

// The trainer settings both train commands derive from their flags and model.
TrainerOptions trainer_options(const TrainOptions& o, const ModelSpec& spec, Device device);
// Resumes from last.ckpt when asked, fits, writes history.csv/curves.png, and starts the
// run's metrics.json object (model, epochs, best epoch, early stop, seconds per epoch).
RunResult fit_run(Trainer& trainer, LoaderSource& train, LoaderSource* val, const TrainOptions& o,
                  const ModelSpec& spec, const std::string& metric, Json& metrics);

}  // namespace glia::app
