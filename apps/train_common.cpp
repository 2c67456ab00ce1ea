#include "apps/train_common.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/interrupt.h"
#include "io/plots.h"
#include "tensor/json.h"

namespace glia::app {

io::Augmentation paper_augmentation() {
  io::Augmentation a;
  a.add(std::make_unique<io::RandomRotation>(15.0f))
      .add(std::make_unique<io::RandomFlip>(true, 0.5f))
      .add(std::make_unique<io::RandomFlip>(false, 0.5f))
      .add(std::make_unique<io::RandomZoom>(0.9f, 1.1f));
  return a;
}

io::ImagePipeline pipeline(int size, bool augment) {
  io::ImagePipeline p;
  p.channels = 3;
  p.height = p.width = size;
  p.interpolation = io::Interpolation::area;
  if (augment) p.augmentation = paper_augmentation();
  return p;
}

std::unique_ptr<LoaderSource> make_loader(std::shared_ptr<const io::ExampleSource> source, int batch_size,
                                          bool shuffle, int workers, uint64_t seed, bool skip_bad,
                                          std::vector<size_t> order) {
  io::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.workers = workers;
  lo.shuffle = shuffle;
  lo.seed = seed;
  lo.skip_bad = skip_bad;
  return std::make_unique<LoaderSource>(std::move(source), lo, std::move(order));
}

std::unique_ptr<Optimizer> make_adam(nn::Module& model, double lr, double weight_decay, bool decoupled) {
  NamedTensors trainable;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) trainable.emplace_back(name, p);
  GLIA_CHECK(!trainable.empty(), "the model has no trainable parameter");
  Adam::Options ao;
  ao.lr = lr;
  ao.weight_decay = weight_decay;
  ao.decoupled_weight_decay = decoupled;
  return std::make_unique<Adam>(std::move(trainable), ao);
}

void check_train_options(const TrainOptions& o) {
  require_path(o.data, "--data");
  GLIA_USAGE_CHECK(o.epochs >= 1, "--epochs " << o.epochs << " must be >= 1");
  GLIA_USAGE_CHECK(o.batch_size >= 1, "--batch-size " << o.batch_size << " must be >= 1");
  GLIA_USAGE_CHECK(o.lr > 0 && std::isfinite(o.lr), "--lr " << o.lr << " must be > 0");
  GLIA_USAGE_CHECK(o.weight_decay >= 0, "--weight-decay " << o.weight_decay << " must be >= 0");
  GLIA_USAGE_CHECK(o.val_fraction > 0 && o.val_fraction < 1, "--val-fraction " << o.val_fraction
                                                                               << " must be in (0, 1)");
  GLIA_USAGE_CHECK(o.workers >= 0, "--workers " << o.workers << " must be >= 0");
  GLIA_USAGE_CHECK(o.patience >= 1, "--patience " << o.patience << " must be >= 1");
  GLIA_USAGE_CHECK(!(o.resume && o.overwrite), "--resume and --overwrite exclude each other");
  if (!o.pretrained.empty()) require_path(o.pretrained, "--pretrained");
}

std::string train_config_json(const TrainOptions& o, const ModelSpec& spec) {
  Json j = Json::object();
  j["model"] = Json(spec.to_string());
  j["data"] = Json(o.data);
  j["epochs"] = Json(o.epochs);
  j["batch_size"] = Json(o.batch_size);
  j["image_size"] = Json(o.image_size);
  j["lr"] = Json(o.lr);
  j["weight_decay"] = Json(o.weight_decay);
  j["decoupled_weight_decay"] = Json(o.decoupled_weight_decay);
  j["device"] = Json(o.device);
  j["seed"] = Json(std::to_string(o.seed));
  j["val_fraction"] = Json(o.val_fraction);
  j["test_fraction"] = Json(o.test_fraction);
  j["patience"] = Json(o.patience);
  j["max_batches"] = Json(static_cast<int64_t>(o.max_batches));
  j["max_images"] = Json(static_cast<int64_t>(o.max_images));
  j["pretrained"] = Json(o.pretrained);
  j["freeze_base"] = Json(o.freeze_base);
  j["keep_duplicates"] = Json(o.keep_duplicates);
  return j.dump();
}

namespace {
void write_history_csv(const std::string& dir, const std::vector<HistoryRow>& history, const std::string& metric) {
  std::string csv = history_csv_header(metric) + "\n";
  for (const auto& r : history) csv += history_csv_row(r) + "\n";
  write_text_file(dir + "/history.csv", csv);
}
}  // namespace

void write_history(const std::string& dir, const std::vector<HistoryRow>& history, const std::string& metric) {
  write_history_csv(dir, history, metric);
  if (!history.empty()) io::write_curves_png(dir + "/curves.png", history, metric);
}

double mean_epoch_seconds(const std::vector<HistoryRow>& history) {
  double s = 0;
  for (const auto& r : history) s += r.seconds;
  return history.empty() ? 0 : s / static_cast<double>(history.size());
}

void print_metrics(const std::string& title, const Metrics& metrics, bool quiet) {
  if (quiet) return;
  std::ostringstream line;
  line << std::setprecision(4) << title << ":";
  for (const auto& [k, v] : metrics) line << " " << k << " " << v;
  std::cout << line.str() << std::endl;
}

TrainerOptions trainer_options(const TrainOptions& o, const ModelSpec& spec, Device device) {
  TrainerOptions to;
  to.epochs = o.epochs;
  to.device = device;
  to.early.patience = o.patience;
  to.checkpoint_dir = o.out;
  to.model_name = spec.to_string();
  to.model_config = Json::parse(spec.to_json(), "model config");
  to.max_batches = o.max_batches;
  to.interrupt = &interrupt_flag();  // set by the InterruptGuard of the train commands
  return to;
}

RunResult fit_run(Trainer& trainer, LoaderSource& train, LoaderSource* val, const TrainOptions& o,
                  const ModelSpec& spec, const std::string& metric, Json& metrics) {
  // history.csv after every epoch (after its checkpoint), so a killed run keeps it.
  trainer.on_progress([&trainer, print = progress_printer(metric, o.quiet), dir = o.out, metric](const ProgressEvent& e) {
    print(e);
    if (e.kind == ProgressEvent::Kind::epoch_end) write_history_csv(dir, trainer.history(), metric);
  });
  if (o.resume) {
    trainer.resume(train.order_key());
    if (!o.quiet) std::cout << "resumed after epoch " << trainer.epoch() << " from " << o.out << "/last.ckpt" << std::endl;
  }
  RunResult result;
  result.dir = o.out;
  result.fit = trainer.fit(train, val);
  write_history(o.out, trainer.history(), metric);
  result.seconds_per_epoch = mean_epoch_seconds(trainer.history());
  metrics = Json::object();
  metrics["model"] = Json(spec.to_string());
  metrics["epochs"] = Json(result.fit.epochs_run);
  metrics["best_epoch"] = Json(result.fit.best_epoch);
  metrics["stopped_early"] = Json(result.fit.stopped_early);
  metrics["seconds_per_epoch"] = Json(result.seconds_per_epoch);
  return result;
}

}  // namespace glia::app
