#include "apps/train_common.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

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

void check_schedule_options(const TrainOptions& o) {
  const std::string& s = o.lr_schedule;
  GLIA_USAGE_CHECK(s == "plateau" || s == "cosine" || s == "onecycle" || s == "constant",
                   "--lr-schedule '" << s << "': expected plateau, cosine, onecycle or constant");
  GLIA_USAGE_CHECK(o.lr_patience >= 0, "--lr-patience " << o.lr_patience << " must be >= 0");
  GLIA_USAGE_CHECK(o.lr_factor > 0 && o.lr_factor < 1, "--lr-factor " << o.lr_factor << " must be in (0, 1)");
  GLIA_USAGE_CHECK(o.min_lr < 0 || (s != "cosine" && s != "onecycle") || o.min_lr < o.lr,
                   "--min-lr " << o.min_lr << " must be below --lr " << o.lr << " for the " << s << " schedule");
  GLIA_USAGE_CHECK(std::isfinite(o.min_lr), "--min-lr " << o.min_lr << " is not a number");
  GLIA_USAGE_CHECK(o.warmup_epochs >= 0 && std::isfinite(o.warmup_epochs),
                   "--warmup-epochs " << o.warmup_epochs << " must be >= 0");
  GLIA_USAGE_CHECK(o.warmup_epochs == 0 || s != "onecycle",
                   "--warmup-epochs: onecycle warms up by itself (the first 30% of its steps); leave it out");
  GLIA_USAGE_CHECK(o.warmup_epochs < o.epochs, "--warmup-epochs " << o.warmup_epochs << " must be below --epochs "
                                                                  << o.epochs);
  GLIA_USAGE_CHECK(o.time_limit >= 0 && std::isfinite(o.time_limit),
                   "--time-limit " << o.time_limit << " (minutes) must be >= 0");
  GLIA_USAGE_CHECK(o.fine_tune_epochs >= 0, "--fine-tune-epochs " << o.fine_tune_epochs << " must be >= 0");
  GLIA_USAGE_CHECK(o.fine_tune_epochs == 0 || o.freeze_base,
                   "--fine-tune-epochs needs --freeze-base: the first phase trains the head with the base frozen");
  GLIA_USAGE_CHECK(o.fine_tune_lr >= 0 && std::isfinite(o.fine_tune_lr),
                   "--fine-tune-lr " << o.fine_tune_lr << " must be > 0");
  GLIA_USAGE_CHECK(o.fine_tune_blocks >= 0, "--fine-tune-blocks " << o.fine_tune_blocks << " must be >= 0");
  GLIA_USAGE_CHECK(o.fine_tune_bn == "train" || o.fine_tune_bn == "frozen",
                   "--fine-tune-bn '" << o.fine_tune_bn << "': expected train or frozen");
  GLIA_USAGE_CHECK(o.fine_tune_epochs > 0 || (o.fine_tune_lr == 0 && o.fine_tune_blocks == 0 && o.fine_tune_bn == "train"),
                   "--fine-tune-lr, --fine-tune-blocks and --fine-tune-bn need --fine-tune-epochs");
  if (o.fine_tune_epochs > 0) {
    GLIA_USAGE_CHECK(o.warmup_epochs < o.fine_tune_epochs, "--warmup-epochs " << o.warmup_epochs
                                                                              << " must be below --fine-tune-epochs "
                                                                              << o.fine_tune_epochs);
    const double lr = o.fine_tune_lr > 0 ? o.fine_tune_lr : o.lr / 10;
    GLIA_USAGE_CHECK(o.min_lr < 0 || (s != "cosine" && s != "onecycle") || o.min_lr < lr,
                     "--min-lr " << o.min_lr << " must be below the fine-tuning rate " << lr << " for the " << s
                                 << " schedule");
  }
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
  check_schedule_options(o);
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
  j["lr_schedule"] = Json(o.lr_schedule);
  j["lr_patience"] = Json(o.lr_patience);
  j["lr_factor"] = Json(o.lr_factor);
  j["min_lr"] = Json(o.min_lr);
  j["warmup_epochs"] = Json(o.warmup_epochs);
  j["time_limit"] = Json(o.time_limit);
  j["fine_tune_epochs"] = Json(o.fine_tune_epochs);
  j["fine_tune_lr"] = Json(o.fine_tune_lr);
  j["fine_tune_blocks"] = Json(o.fine_tune_blocks);
  j["fine_tune_bn"] = Json(o.fine_tune_bn);
  return j.dump();
}

void write_history(const std::string& dir, const std::vector<HistoryRow>& history, const std::string& metric) {
  std::string csv = history_csv_header(metric) + "\n";
  for (const auto& r : history) csv += history_csv_row(r) + "\n";
  write_text_file(dir + "/history.csv", csv);
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
  to.schedule.kind = parse_lr_schedule(o.lr_schedule);
  to.schedule.plateau.patience = o.lr_patience;
  to.schedule.plateau.factor = o.lr_factor;
  to.schedule.plateau.min_lr = std::max(0.0, o.min_lr);
  to.schedule.min_lr = o.min_lr;
  to.schedule.warmup_epochs = o.warmup_epochs;
  to.time_limit_seconds = o.time_limit * 60;
  return to;
}

RunResult fit_run(Trainer& trainer, LoaderSource& train, LoaderSource* val, const TrainOptions& o,
                  const ModelSpec& spec, const std::string& metric, Json& metrics) {
  trainer.on_progress(progress_printer(metric, o.quiet));
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
  metrics["stopped"] = Json(stop_reason_name(result.fit.stopped));
  metrics["seconds_per_epoch"] = Json(result.seconds_per_epoch);
  return result;
}

}  // namespace glia::app
