// train-seg and eval-seg: the residual U-Net on the LGG layout, split by patient.
#include <filesystem>
#include <iostream>
#include <set>

#include "apps/input_report.h"
#include "apps/interrupt.h"
#include "apps/train_common.h"
#include "apps/data_parallel_run.h"
#include "apps/plots.h"
#include "io/segmentation_dataset.h"
#include "tensor/json.h"
#include "tensor/random.h"
#include "train/segmentation_trainer.h"
#include "train/trainer_checkpoint.h"

namespace glia::app {
namespace {

io::SegmentationDataset open_dataset(const std::string& root, bool skip_bad, bool quiet, int threads) {
  io::SegmentationDatasetOptions o;
  o.skip_bad = skip_bad;
  o.quiet = quiet;
  o.threads = threads > 0 ? threads : 2;
  io::SegmentationDataset ds = io::open_segmentation_dataset(root, o);
  GLIA_USAGE_CHECK(!ds.samples.empty(), "--data " << root << ": no image/mask pairs (the kaggle_3m layout)");
  return ds;
}

Json metrics_object(const Metrics& m) { return Json::parse(metrics_json(m), "metrics"); }

Json split_record(const TrainOptions& o, const io::PatientSplit& split) {
  Json j = Json::object();
  j["val_fraction"] = Json(o.val_fraction);
  j["test_fraction"] = Json(o.test_fraction);
  j["seed"] = Json(std::to_string(o.seed));
  for (const auto& [key, patients] : {std::make_pair("val_patients", &split.val_patients),
                                      std::make_pair("test_patients", &split.test_patients)}) {
    Json list = Json::array();
    for (const auto& p : *patients) list.push_back(Json(p));
    j[key] = list;
  }
  return j;
}

// The slices of the patients a checkpoint's training run put in `key` (val_patients or
// test_patients), found in the dataset; every recorded patient must be there.
std::vector<io::SegmentationSample> recorded_patients(const Json& record, const std::string& key,
                                                      const io::SegmentationDataset& ds, const std::string& checkpoint,
                                                      const std::string& root) {
  std::set<std::string> wanted, found;
  for (const auto& p : record.at(key).items()) wanted.insert(p.as_string());
  std::vector<io::SegmentationSample> out;
  for (const auto& s : ds.samples)
    if (wanted.count(s.patient)) {
      out.push_back(s);
      found.insert(s.patient);
    }
  std::vector<std::string> missing;
  for (const auto& p : wanted)
    if (!found.count(p)) missing.push_back(p);
  GLIA_CHECK(missing.empty(), checkpoint << " records " << wanted.size() << " patients in its " << key << ", but "
                                         << missing.size() << " are not in --data " << root << " (first: "
                                         << (missing.empty() ? "" : missing[0])
                                         << "); is --data the dataset that run trained on?");
  return out;
}

// Evaluates `samples` (with HD/HD95) and writes overlays of up to `examples` slices with
// tumour (predicted outline red, true outline green) into <dir>/examples/.
Metrics evaluate_split(Trainer& trainer, SegmentationTask& task, const std::vector<io::SegmentationSample>& samples,
                       int size, int batch_size, int workers, const std::string& dir, size_t examples,
                       std::shared_ptr<io::DecodedCache> cache = nullptr) {
  auto source = std::make_shared<io::SegmentationSource>(samples, pipeline(size, false), std::move(cache));
  auto loader = make_loader(source, batch_size, false, workers, 0, false);
  task.set_hausdorff(true);
  size_t written = 0;
  if (!writes_outputs()) examples = 0;  // data parallel: rank 0 draws from its own shard
  if (examples > 0) std::filesystem::create_directories(dir + "/examples");
  Metrics m = trainer.evaluate(*loader, [&](const io::Batch& b, const Tensor& output) {
    if (written >= examples) return;
    const std::vector<uint8_t> predicted = threshold_masks(output);
    const size_t pixels = static_cast<size_t>(b.h) * b.w;
    std::vector<uint8_t> truth(pixels);
    for (size_t i = 0; i < static_cast<size_t>(b.n) && written < examples; ++i) {
      bool tumour = false;
      for (size_t p = 0; p < pixels; ++p) tumour |= (truth[p] = b.masks[i * pixels + p] > 0.5f) != 0;
      if (!tumour) continue;
      const cv::Mat overlay = app::overlay_image(b.images.data() + i * 3 * pixels, 3, b.h, b.w,
                                                predicted.data() + i * pixels, truth.data(), 1);
      const std::string stem = std::filesystem::path(i < b.paths.size() ? b.paths[i] : "slice").stem().string();
      app::write_png(dir + "/examples/" + stem + "_overlay.png", overlay);
      ++written;
    }
  });
  task.set_hausdorff(false);
  return m;
}

}  // namespace

RunResult train_segmenter(TrainOptions o) {
  if (!o.image_size) o.image_size = 256;
  if (!o.lr) o.lr = 1e-4;
  if (!o.patience) o.patience = 10;
  if (!o.lr_patience) o.lr_patience = 5;
  check_train_options(o);
  const int size = *o.image_size;
  GLIA_USAGE_CHECK(o.test_fraction >= 0 && o.val_fraction + o.test_fraction < 1,
                   "--test-fraction " << o.test_fraction << " with --val-fraction " << o.val_fraction
                                      << ": both must leave patients for training");
  GLIA_USAGE_CHECK(o.positive_repeat >= 1, "--positive-repeat " << o.positive_repeat << " must be >= 1");
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  check_precision_on_device(o.precision, device);
  ModelSpec spec;
  spec.kind = "unet";
  spec.width = o.width;
  spec.depth = o.depth;
  spec.image_size = size;
  check_image_size(spec);
  if (o.out.empty()) o.out = default_run_dir("train-seg");
  const InputPaths reads = {{"--data", o.data}, {"--pretrained", o.pretrained}};
  if (writes_outputs()) check_run_dir(o.out, o.overwrite, o.resume, "train-seg", reads);

  GLIA_USAGE_CHECK(!o.freeze_base, "--freeze-base: the U-Net has no pretrained base to freeze");
  io::SegmentationDataset ds = open_dataset(o.data, o.skip_bad, o.quiet, o.threads);
  // Everything that can be refused is checked before the run dir is touched.
  io::PatientSplit split = io::split_by_patient(ds, o.val_fraction, o.test_fraction, o.seed);
  GLIA_USAGE_CHECK(!split.train.empty() && !split.val.empty(),
                   "--data " << o.data << ": " << ds.patients.size()
                             << " patients are too few for a train/validation split by patient");
  const auto train_samples = thin(split.train, o.max_images);
  const std::vector<size_t> train_order = io::oversample_positive(train_samples, o.positive_repeat);
  check_batch_norm_batches(spec, o.batch_size, train_order.size(), o.sync_bn);
  auto model = build_model(spec, o.seed);
  if (!o.pretrained.empty()) load_module_state(*model, read_model_weights(o.pretrained), "--pretrained " + o.pretrained);
  const auto cache = make_cache(o, train_samples.size() + split.val.size(), pipeline(size, false), true);
  if (writes_outputs()) prepare_run_dir(o.out, o.overwrite, o.resume, "train-seg", train_config_json(o, spec), reads);

  if (!o.quiet)
    std::cout << "train-seg: " << train_samples.size() << " training slices (" << split.train_patients.size()
              << " patients), " << split.val.size() << " validation (" << split.val_patients.size() << "), "
              << split.test.size() << " test (" << split.test_patients.size() << "), split by patient with seed "
              << o.seed << "; model " << spec.to_string() << "; run directory " << o.out << std::endl;
  std::vector<InputReport> inputs(1);
  inputs[0].folder = "pairs";
  inputs[0].found = ds.samples.size();
  inputs[0].drop("max_images", split.train.size() - train_samples.size());
  inputs[0].used = train_samples.size() + split.val.size() + split.test.size();
  print_inputs("train-seg", inputs, ds.skipped, "image/mask pairs", o.quiet);
  auto train_loader =
      make_loader(std::make_shared<io::SegmentationSource>(train_samples, pipeline(size, true), cache), o.batch_size,
                  true, o.workers, o.seed, o.skip_bad, train_order);
  auto val_loader = make_loader(std::make_shared<io::SegmentationSource>(split.val, pipeline(size, false), cache),
                                o.batch_size, false, o.workers, 0, o.skip_bad);

  model->to(device);
  auto optimizer = make_adam(*model, *o.lr, o.weight_decay, o.decoupled_weight_decay);
  SegmentationTask task;
  TrainerOptions to = trainer_options(o, spec, device);
  to.model_config["split"] = split_record(o, split);  // eval-seg evaluates the same patients
  Trainer trainer(*model, *optimizer, task, to);
  const InterruptGuard interrupts;  // SIGINT/SIGTERM from here on: apps/interrupt.h
  Json metrics;
  RunResult result = fit_run(trainer, *train_loader, val_loader.get(), o, spec, "dice", metrics);
  metrics["inputs"] = inputs_json(inputs, skipped_inputs(ds.skipped, {train_loader.get(), val_loader.get()}));
  result.validation = evaluate_split(trainer, task, split.val, size, o.batch_size, o.workers, o.out, 0, cache);
  print_metrics("validation (best weights)", result.validation, o.quiet);
  metrics["validation"] = metrics_object(result.validation);
  if (!split.test.empty()) {
    result.test = evaluate_split(trainer, task, split.test, size, o.batch_size, o.workers, o.out, 8);
    print_metrics("test (held-out patients)", result.test, o.quiet);
    metrics["test"] = metrics_object(result.test);
  }
  if (writes_outputs()) write_text_file(o.out + "/metrics.json", metrics.dump(2) + "\n");
  return result;
}

RunResult evaluate_segmenter(EvalOptions o) {
  require_path(o.checkpoint, "--checkpoint");
  require_path(o.data, "--data");
  check_eval_options(o);
  const InputPaths reads = {{"--checkpoint", o.checkpoint}, {"--data", o.data}};
  if (!o.out.empty()) check_run_dir(o.out, o.overwrite, false, "eval-seg", reads);
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  ModelSpec spec;
  auto model = load_model(o.checkpoint, "unet", device, &spec);
  // The training run's patients, as its checkpoint records them; flags only for older
  // checkpoints (defaults those of train-seg).
  const Json record = checkpoint_split(o.checkpoint);
  const double val_fraction = split_setting(record, "val_fraction", o.val_fraction, 0.15, o.checkpoint);
  const double test_fraction = split_setting(record, "test_fraction", o.test_fraction, 0.15, o.checkpoint);
  const uint64_t seed = split_seed(record, o.seed, o.checkpoint);
  GLIA_USAGE_CHECK(val_fraction + test_fraction < 1, "--val-fraction " << val_fraction << " with --test-fraction "
                                                                       << test_fraction << ": leave no patient for training");
  io::SegmentationDataset ds = open_dataset(o.data, false, o.quiet, o.threads);
  std::string split = o.split == "auto" ? "test" : o.split;
  std::vector<io::SegmentationSample> samples;
  if (split == "all") {
    samples = ds.samples;
  } else {
    const std::string key = split + "_patients";
    if (record.is_object()) {
      samples = recorded_patients(record, key, ds, o.checkpoint, o.data);
    } else {
      if (!o.quiet)
        std::cout << "note: " << o.checkpoint << " records no training split (written by an older glia); --split "
                  << split << " uses --val-fraction " << val_fraction << " --test-fraction " << test_fraction
                  << " --seed " << seed << ", which must be the training run's" << std::endl;
      const io::PatientSplit ps = io::split_by_patient(ds, val_fraction, test_fraction, seed);
      samples = split == "test" ? ps.test : ps.val;
    }
    GLIA_USAGE_CHECK(!samples.empty(), "--split " << split << ": no patient falls in it (--val-fraction "
                                                  << val_fraction << ", --test-fraction " << test_fraction << ")");
  }
  if (o.out.empty()) o.out = default_run_dir("eval-seg");
  prepare_run_dir(o.out, o.overwrite, false, "eval-seg",
                  "{\"checkpoint\": " + Json(o.checkpoint).dump() + ", \"split\": " + Json(split).dump() + "}",
                  reads);
  Adam unused_optimizer({}, Adam::Options{});
  SegmentationTask task;
  TrainerOptions to;
  to.device = device;
  Trainer trainer(*model, unused_optimizer, task, to);
  RunResult result;
  result.dir = o.out;
  result.test = evaluate_split(trainer, task, samples, spec.image_size, o.batch_size, o.workers, o.out, o.examples);
  if (!o.quiet) {
    std::cout << "eval-seg: " << samples.size() << " slices of split '" << split << "' with " << spec.to_string()
              << std::endl;
    print_metrics(split, result.test, false);
  }
  Json metrics = Json::object();
  metrics["model"] = Json(spec.to_string());
  metrics["split"] = Json(split);
  metrics["images"] = Json(static_cast<int64_t>(samples.size()));
  InputReport inputs;
  inputs.folder = "pairs";
  inputs.found = ds.samples.size();
  inputs.used = samples.size();
  inputs.outside_split = ds.samples.size() - samples.size();
  metrics["inputs"] = inputs_json({inputs}, ds.skipped);
  metrics[split] = metrics_object(result.test);
  metrics["hausdorff_undefined_images"] = Json(task.meter().undefined_hausdorff());
  write_text_file(o.out + "/metrics.json", metrics.dump(2) + "\n");
  return result;
}

}  // namespace glia::app
