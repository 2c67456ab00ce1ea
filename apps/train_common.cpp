#include "apps/train_common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "apps/weights.h"
#include "apps/interrupt.h"
#include "apps/data_parallel_run.h"
#include "apps/plots.h"
#include "tensor/autocast.h"
#include "tensor/json.h"
#include "train/precision.h"
#include "train/checkpoint.h"

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
  lo.merge_single_last = true;  // see check_batch_norm_batches
  // Under mpirun each rank builds only its shard of every batch (train/communicator.h).
  lo.shard_rank = run_communicator().rank();
  lo.shard_count = run_communicator().size();
  return std::make_unique<LoaderSource>(std::move(source), lo, std::move(order));
}

std::shared_ptr<io::DecodedCache> make_cache(const TrainOptions& o, size_t images, const io::ImagePipeline& p,
                                             bool masks) {
  const io::CacheMode mode = io::parse_cache_mode(o.cache);
  const io::CacheBudget budget = mode == io::CacheMode::automatic ? io::cache_budget() : io::CacheBudget{};
  io::CachePlan plan = io::plan_cache(mode, io::estimated_cache_bytes(images, p, masks), budget);
  // A fallback to decoding every epoch is said even with --quiet: it costs time.
  if (mode == io::CacheMode::automatic && !plan.cache) std::cerr << "glia: note: " << plan.message << std::endl;
  else if (!o.quiet) std::cout << plan.message << std::endl;
  return plan.cache;
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
  GLIA_USAGE_CHECK(o.lr_patience && *o.lr_patience >= 0, "--lr-patience " << o.lr_patience.value_or(-1) << " must be >= 0");
  GLIA_USAGE_CHECK(o.lr_factor > 0 && o.lr_factor < 1, "--lr-factor " << o.lr_factor << " must be in (0, 1)");
  GLIA_USAGE_CHECK(o.min_lr < 0 || (s != "cosine" && s != "onecycle") || o.min_lr < o.lr,
                   "--min-lr " << o.min_lr << " must be below --lr " << o.lr.value_or(0) << " for the " << s << " schedule");
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
  GLIA_USAGE_CHECK(!o.fine_tune_lr || (*o.fine_tune_lr > 0 && std::isfinite(*o.fine_tune_lr)),
                   "--fine-tune-lr " << o.fine_tune_lr.value_or(0) << " must be > 0");
  GLIA_USAGE_CHECK(o.fine_tune_blocks >= 0, "--fine-tune-blocks " << o.fine_tune_blocks << " must be >= 0");
  GLIA_USAGE_CHECK(o.fine_tune_bn == "train" || o.fine_tune_bn == "frozen",
                   "--fine-tune-bn '" << o.fine_tune_bn << "': expected train or frozen");
  GLIA_USAGE_CHECK(o.fine_tune_epochs > 0 || (!o.fine_tune_lr && o.fine_tune_blocks == 0 && o.fine_tune_bn == "train"),
                   "--fine-tune-lr, --fine-tune-blocks and --fine-tune-bn need --fine-tune-epochs");
  if (o.fine_tune_epochs > 0) {
    GLIA_USAGE_CHECK(o.warmup_epochs < o.fine_tune_epochs, "--warmup-epochs " << o.warmup_epochs
                                                                              << " must be below --fine-tune-epochs "
                                                                              << o.fine_tune_epochs);
    const double lr = o.fine_tune_lr ? *o.fine_tune_lr : *o.lr / 10;
    GLIA_USAGE_CHECK(o.min_lr < 0 || (s != "cosine" && s != "onecycle") || o.min_lr < lr,
                     "--min-lr " << o.min_lr << " must be below the fine-tuning rate " << lr << " for the " << s
                                 << " schedule");
  }
}

void check_precision_on_device(const std::string& precision, Device device) {
  const DType dtype = precision_dtype(parse_precision(precision, "--precision"));
  if (dtype == DType::f32) return;
  const std::string missing = autocast_kernels_missing(device, dtype);
  GLIA_USAGE_CHECK(missing.empty(), "--precision " << precision << " on --device " << device_name(device) << ": " << missing);
}

void check_train_options(const TrainOptions& o) {
  require_path(o.data, "--data");
  GLIA_USAGE_CHECK(o.epochs >= 1, "--epochs " << o.epochs << " must be >= 1");
  GLIA_USAGE_CHECK(o.batch_size >= 1, "--batch-size " << o.batch_size << " must be >= 1");
  GLIA_USAGE_CHECK(o.lr && *o.lr > 0 && std::isfinite(*o.lr), "--lr " << o.lr.value_or(0) << " must be > 0");
  GLIA_USAGE_CHECK(o.weight_decay >= 0, "--weight-decay " << o.weight_decay << " must be >= 0");
  GLIA_USAGE_CHECK(o.val_fraction > 0 && o.val_fraction < 1, "--val-fraction " << o.val_fraction
                                                                               << " must be in (0, 1)");
  GLIA_USAGE_CHECK(o.workers >= 0, "--workers " << o.workers << " must be >= 0");
  GLIA_USAGE_CHECK(o.cache == "auto" || o.cache == "ram" || o.cache == "off",
                   "--cache '" << o.cache << "': expected auto, ram or off");
  GLIA_USAGE_CHECK(o.precision == "fp32" || o.precision == "bf16" || o.precision == "fp16",
                   "--precision '" << o.precision << "': expected fp32, bf16 or fp16");
  GLIA_USAGE_CHECK(o.patience && *o.patience >= 1, "--patience " << o.patience.value_or(0) << " must be >= 1");
  GLIA_USAGE_CHECK(!(o.resume && o.overwrite), "--resume and --overwrite exclude each other");
  check_schedule_options(o);
  if (!o.pretrained.empty() && !is_weights_name(o.pretrained)) require_path(o.pretrained, "--pretrained");
}

void check_eval_options(const EvalOptions& o) {
  GLIA_USAGE_CHECK(o.split == "test" || o.split == "val" || o.split == "all" || o.split == "auto",
                   "--split '" << o.split << "': expected test, val, all or auto");
  GLIA_USAGE_CHECK(o.batch_size >= 1, "--batch-size " << o.batch_size << " must be >= 1");
  GLIA_USAGE_CHECK(o.workers >= 0, "--workers " << o.workers << " must be >= 0");
  if (o.val_fraction)
    GLIA_USAGE_CHECK(*o.val_fraction > 0 && *o.val_fraction < 1, "--val-fraction " << *o.val_fraction
                                                                                   << " must be in (0, 1)");
  if (o.test_fraction)
    GLIA_USAGE_CHECK(*o.test_fraction >= 0 && *o.test_fraction < 1, "--test-fraction " << *o.test_fraction
                                                                                       << " must be in [0, 1)");
}

std::string train_config_json(const TrainOptions& o, const ModelSpec& spec) {
  Json j = Json::object();
  j["model"] = Json(spec.to_string());
  j["data"] = Json(o.data);
  j["epochs"] = Json(o.epochs);
  j["batch_size"] = Json(o.batch_size);
  j["image_size"] = Json(o.image_size.value_or(0));
  j["lr"] = Json(o.lr.value_or(0));
  j["weight_decay"] = Json(o.weight_decay);
  j["decoupled_weight_decay"] = Json(o.decoupled_weight_decay);
  j["device"] = Json(o.device);
  j["precision"] = Json(o.precision);
  j["seed"] = Json(std::to_string(o.seed));
  j["val_fraction"] = Json(o.val_fraction);
  j["test_fraction"] = Json(o.test_fraction);
  j["patience"] = Json(o.patience.value_or(0));
  j["max_batches"] = Json(static_cast<int64_t>(o.max_batches));
  j["max_images"] = Json(static_cast<int64_t>(o.max_images));
  j["pretrained"] = Json(o.pretrained);
  j["freeze_base"] = Json(o.freeze_base);
  j["positive_repeat"] = Json(o.positive_repeat);
  j["skip_bad"] = Json(o.skip_bad);
  j["lr_schedule"] = Json(o.lr_schedule);
  j["lr_patience"] = Json(o.lr_patience.value_or(0));
  j["lr_factor"] = Json(o.lr_factor);
  j["min_lr"] = Json(o.min_lr);
  j["warmup_epochs"] = Json(o.warmup_epochs);
  j["time_limit"] = Json(o.time_limit);
  j["fine_tune_epochs"] = Json(o.fine_tune_epochs);
  j["fine_tune_lr"] = o.fine_tune_lr ? Json(*o.fine_tune_lr) : Json();
  j["fine_tune_blocks"] = Json(o.fine_tune_blocks);
  j["fine_tune_bn"] = Json(o.fine_tune_bn);
  j["cache"] = Json(o.cache);
  j["keep_duplicates"] = Json(o.keep_duplicates);
  j["sync_bn"] = Json(o.sync_bn);  // refused as a change on resume (resume_changes)
  return j.dump();
}

void check_batch_norm_batches(const ModelSpec& spec, int batch_size, size_t training_samples, bool sync_bn) {
  io::LoaderOptions lo;  // as make_loader builds the training loader
  lo.batch_size = batch_size;
  lo.merge_single_last = true;
  if (training_samples == 0) return;  // the split checks name that problem
  const size_t smallest = io::smallest_batch(training_samples, lo);
  // Data parallel: every rank needs a sample of every batch, the last one included.
  const auto world = static_cast<size_t>(run_communicator().size());
  GLIA_USAGE_CHECK(smallest >= world, "--batch-size " << batch_size << " with " << training_samples
                                                      << " training images gives a batch of " << smallest
                                                      << ", fewer than the " << world
                                                      << " ranks (each needs at least one image of every batch): "
                                                         "use a larger --batch-size or fewer ranks");
  const int side = smallest_feature_map(spec);
  // Batch norm sees one rank's shard (per-rank statistics), smallest / world images, or
  // with --sync-bn the global batch.
  const size_t shard = sync_bn ? smallest : smallest / world;
  if (shard * static_cast<size_t>(side) * static_cast<size_t>(side) > 1) return;
  GLIA_USAGE_CHECK(world == 1, "--batch-size " << batch_size << " with " << training_samples << " training images on "
                                               << world << " ranks gives a rank " << shard
                                               << " image of the smallest batch (" << smallest << "), and the "
                                               << "smallest feature map of " << spec.to_string() << " is " << side
                                               << "x" << side << ": batch norm would get a single value per channel; "
                                               << "use a --batch-size that leaves every rank 2 images of every batch");
  // The smallest size whose last feature map is 2x2 (EfficientNet: ceil(size/32) = 2).
  const int size_that_works = spec.kind == "unet" ? 2 << spec.depth : 33;
  std::ostringstream why;
  why << "the smallest feature map of " << spec.to_string() << " is " << side << "x" << side
      << ", so a training batch of one image gives batch norm a single value per channel and it cannot train";
  GLIA_USAGE_CHECK(training_samples != 1, "--data: the training split holds a single image at --image-size "
                                              << spec.image_size << ": " << why.str() << "; use more images or --image-size "
                                              << size_that_works << " or more");
  GLIA_USAGE_CHECK(false, "--batch-size " << batch_size << " with --image-size " << spec.image_size << ": " << why.str()
                                          << "; use --batch-size 2 or more, or --image-size " << size_that_works
                                          << " or more");
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
  if (!history.empty()) app::write_curves_png(dir + "/curves.png", history, metric);
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
  to.precision = parse_precision(o.precision, "--precision");
  to.early.patience = o.patience.value_or(0);
  to.checkpoint_dir = o.out;
  to.model_name = spec.to_string();
  to.model_config = Json::parse(spec.to_json(), "model config");
  to.max_batches = o.max_batches;
  to.schedule.kind = parse_lr_schedule(o.lr_schedule);
  to.schedule.plateau.patience = o.lr_patience.value_or(0);
  to.schedule.plateau.factor = o.lr_factor;
  // train-seg's plateau floor follows --lr (derived, not stored, so a resume that
  // changes --lr moves the floor with it); train-cls's is the paper's 0.
  const double default_floor = spec.kind == "unet" ? o.lr.value_or(0) / 100 : 0.0;
  to.schedule.plateau.min_lr = o.min_lr >= 0 ? o.min_lr : default_floor;
  to.schedule.min_lr = o.min_lr;
  to.schedule.warmup_epochs = o.warmup_epochs;
  to.time_limit_seconds = o.time_limit * 60;
  to.interrupt = &interrupt_flag();  // set by the InterruptGuard of the train commands
  to.comm = &run_communicator();      // one process unless launched by mpirun
  to.sync_batch_norm = o.sync_bn;
  return to;
}

namespace {

// The flags --resume lets change: they take effect from the next epoch without making
// it another run. Every other key of the run config (model, image size, batch size,
// seed, split, weight decay, augmentation, pretrained weights, any key added later) is
// refused, so a new flag is safe until someone decides it may change.
const std::set<std::string>& changeable_on_resume() {
  static const std::set<std::string> keys = {"epochs", "lr", "patience", "max_batches", "device", "data", "skip_bad",
                                             "time_limit", "fine_tune_epochs", "cache"};
  return keys;
}

std::string flag_of(const std::string& key) {
  if (key == "decoupled_weight_decay") return "--adamw";
  if (key == "model") return "the model (--model, --width, --depth, --image-size)";
  std::string flag = "--" + key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

// A value for a message: strings bare, numbers in the fewest digits that give them back
// (0.15, not JSON's 0.14999999999999999).
std::string shown(const Json& v) {
  if (v.is_string()) return v.as_string();
  if (!v.is_number() || v.is_integer()) return v.dump();
  char buf[40];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v.as_number());
    if (std::strtod(buf, nullptr) == v.as_number()) break;
  }
  return buf;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  GLIA_CHECK(f.good(), "cannot read " << path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Appends this resume to run.json: "config" takes the new values and "resumes" lists
// the epoch and what changed, so the run's record says which settings trained which epochs.
void record_resume(const std::string& dir, int after_epoch, const std::vector<ResumeChange>& changes) {
  const std::string path = dir + "/run.json";
  Json run = Json::parse(read_text(path), path);
  Json changed = Json::object();
  for (const auto& c : changes) {
    run["config"][c.key] = c.to;
    Json fromto = Json::object();
    fromto["from"] = c.from;
    fromto["to"] = c.to;
    changed[c.key] = fromto;
  }
  Json entry = Json::object();
  entry["after_epoch"] = Json(after_epoch);
  entry["changed"] = changed;
  if (!run.contains("resumes")) run["resumes"] = Json::array();
  run["resumes"].push_back(entry);
  // Atomic: a failure here leaves the previous run.json.
  const std::string tmp = path + ".tmp";
  write_text_file(tmp, run.dump(2) + "\n");
  std::filesystem::rename(tmp, path);
}

}  // namespace

std::vector<ResumeChange> resume_changes(const std::string& dir, const std::string& config_json) {
  const std::string path = dir + "/run.json";
  GLIA_CHECK(std::filesystem::exists(path), "--resume: " << path << " is missing, so the flags cannot be compared "
                                                                "with the run's; restore it or start a new run");
  const Json run = Json::parse(read_text(path), path);
  GLIA_CHECK(run.is_object() && run.contains("config") && run.at("config").is_object(),
             "--resume: " << path << " holds no \"config\" object");
  const Json& before = run.at("config");
  const Json now = Json::parse(config_json, "run config");
  std::vector<ResumeChange> changes;
  std::string refused;
  for (const auto& [key, value] : now.members()) {
    if (!before.contains(key)) continue;  // a run started by an older glia did not record it
    const Json& old = before.at(key);
    if (old.dump() == value.dump()) continue;
    // The starting weights matter only at the start: a resume takes them from last.ckpt.
    if (key == "pretrained" && value.is_string() && value.as_string().empty()) continue;
    if (changeable_on_resume().count(key)) {
      changes.push_back({key, flag_of(key), old, value});
    } else {
      refused += "\n  " + flag_of(key) + ": the run has " + shown(old) + ", this command gives " + shown(value);
    }
  }
  GLIA_USAGE_CHECK(refused.empty(), "--resume: these flags differ from the run in " << dir
                                        << " and cannot change during a run (give the run's values, or start a new "
                                           "run with --out):"
                                        << refused);
  return changes;
}

Json checkpoint_split(const std::string& checkpoint) {
  const Json config = load_checkpoint(checkpoint).model_config;
  return config.is_object() && config.contains("split") ? config.at("split") : Json();
}

double split_setting(const Json& record, const std::string& key, const std::optional<double>& flag, double fallback,
                     const std::string& checkpoint) {
  if (!record.is_object()) return flag.value_or(fallback);
  const Json& recorded = record.at(key);
  GLIA_USAGE_CHECK(!flag || *flag == recorded.as_number(),
                   flag_of(key) << " " << shown(Json(flag.value_or(0))) << " contradicts the checkpoint " << checkpoint
                                << ", whose training run used " << flag_of(key) << " " << shown(recorded)
                                << "; leave the flag out to evaluate that run's split");
  return recorded.as_number();
}

uint64_t split_seed(const Json& record, const std::optional<uint64_t>& flag, const std::string& checkpoint) {
  if (!record.is_object()) return flag.value_or(0);
  const uint64_t recorded = std::stoull(record.at("seed").as_string());
  GLIA_USAGE_CHECK(!flag || *flag == recorded, "--seed " << *flag << " contradicts the checkpoint " << checkpoint
                                                         << ", whose training run used --seed " << recorded
                                                         << "; leave the flag out to evaluate that run's split");
  return recorded;
}

RunResult fit_run(Trainer& trainer, LoaderSource& train, LoaderSource* val,
                  const TrainOptions& o, const ModelSpec& spec, const std::string& metric, Json& metrics) {
  // history.csv after every epoch (after its checkpoint), so a killed run keeps it.
  trainer.on_progress([&trainer, print = progress_printer(metric, o.quiet), dir = o.out, metric](const ProgressEvent& e) {
    print(e);
    if (e.kind == ProgressEvent::Kind::epoch_end && writes_outputs()) write_history_csv(dir, trainer.history(), metric);
  });
  if (o.resume) {
    const std::vector<ResumeChange> changes = resume_changes(o.out, train_config_json(o, spec));
    trainer.resume(train.order_key());
    // (In the fine-tuning phase, --epochs has done its part: the head phase is over.)
    GLIA_USAGE_CHECK(trainer.phase() == 2 || o.epochs >= trainer.epoch(), "--epochs " << o.epochs << " with --resume: the run in " << o.out
                                                              << " has already completed " << trainer.epoch()
                                                              << " epochs; give --epochs " << trainer.epoch()
                                                              << " or more");
    // The new learning rate replaces the one the checkpoint carries (which the plateau
    // schedule may have lowered); the other changed flags already act through `o`.
    for (const auto& c : changes) {
      if (c.key != "lr") continue;
      GLIA_USAGE_CHECK(trainer.phase() == 1, "--lr with --resume: the run in "
                                                 << o.out << " is in its fine-tuning phase, whose rate --lr no "
                                                             "longer sets; leave --lr as it was");
      trainer.set_base_lr(*o.lr);
    }
    if (writes_outputs()) record_resume(o.out, trainer.epoch(), changes);
    if (!o.quiet) std::cout << "resumed after epoch " << trainer.epoch() << " from " << o.out << "/last.ckpt" << std::endl;
    for (const auto& c : writes_outputs() ? changes : std::vector<ResumeChange>{})  // even with --quiet
      std::cout << "resume: " << c.flag << " " << shown(c.from) << " -> " << shown(c.to) << " from epoch "
                << trainer.epoch() + 1 << " (recorded in run.json)" << std::endl;
  }
  RunResult result;
  result.dir = o.out;
  result.fit = trainer.fit(train, val);
  if (writes_outputs()) write_history(o.out, trainer.history(), metric);
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
