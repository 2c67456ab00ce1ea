// train-cls and eval-cls: the EfficientNet classifier on the Nickparvar layout.
#include <filesystem>
#include <iostream>

#include "apps/input_report.h"
#include "apps/interrupt.h"
#include "apps/train_common.h"
#include "io/classification_dataset.h"
#include "io/plots.h"
#include "nets/efficientnet.h"
#include "tensor/json.h"
#include "tensor/random.h"
#include "train/classification_trainer.h"
#include "train/trainer_checkpoint.h"

namespace glia::app {
namespace {

std::vector<std::string> class_names() {
  std::vector<std::string> names;
  for (const char* n : io::tumour_class_names()) names.push_back(n);
  return names;
}

io::ClassificationDataset open_dataset(const std::string& root, bool skip_bad, bool keep_duplicates, bool quiet) {
  io::ClassificationDatasetOptions o;
  o.skip_bad = skip_bad;
  // Dropped by default: no copy of a validation/test image in training, no image counted
  // twice in a score. What is dropped is reported (apps/input_report.h).
  o.drop_duplicates = !keep_duplicates;
  o.quiet = quiet;
  io::ClassificationDataset ds = io::open_classification_dataset(root, o);
  GLIA_USAGE_CHECK(ds.training.present || ds.testing.present,
                   "--data " << root << ": holds neither Training/ nor Testing/ (the brain-tumor-mri layout)");
  return ds;
}

// Loads the feature extractor ("features.*") of `path` into the classifier.
void load_pretrained_base(nn::Module& model, const std::string& path) {
  auto weights = read_model_weights(path);
  std::map<std::string, Tensor> base;
  for (auto& [name, t] : weights)
    if (name.rfind("features.", 0) == 0) base[name] = t;
  GLIA_CHECK(!base.empty(), "--pretrained " << path << ": holds no 'features.*' tensor (an EfficientNet base)");
  auto* features = dynamic_cast<nets::EfficientNet&>(model).features();
  std::map<std::string, Tensor> stripped;
  for (auto& [name, t] : base) stripped[name.substr(9)] = t;
  load_module_state(*features, stripped, "--pretrained " + path + " (its tensors under 'features.')");
}

Metrics evaluate_split(Trainer& trainer, ClassificationTask& task, const std::vector<io::ClassificationSample>& samples,
                       int size, int batch_size, int workers, const std::string& dir, const std::string& tag) {
  auto source = std::make_shared<io::ClassificationSource>(samples, pipeline(size, false));
  auto loader = make_loader(source, batch_size, false, workers, 0, false);
  Metrics m = trainer.evaluate(*loader);
  io::write_confusion_png(dir + "/" + tag + ".png", task.confusion(), class_names());
  write_text_file(dir + "/" + tag + ".txt", task.confusion().to_string(class_names()));
  return m;
}

Json metrics_object(const Metrics& m) { return Json::parse(metrics_json(m), "metrics"); }

}  // namespace

RunResult train_classifier(TrainOptions o) {
  if (o.image_size == 0) o.image_size = 240;
  if (o.lr == 0) o.lr = 1e-3;
  check_train_options(o);
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  ModelSpec spec;
  spec.kind = "classifier";
  spec.variant = o.model;
  spec.image_size = o.image_size;
  check_image_size(spec);
  if (o.out.empty()) o.out = default_run_dir("train-cls");
  const InputPaths reads = {{"--data", o.data}, {"--pretrained", o.pretrained}};
  check_run_dir(o.out, o.overwrite, o.resume, "train-cls", reads);

  io::ClassificationDataset ds = open_dataset(o.data, o.skip_bad, o.keep_duplicates, o.quiet);
  GLIA_USAGE_CHECK(ds.training.present, "--data " << o.data << ": has no Training/ folder to train on");
  // Model and weights before touching the run dir: a bad --model or --pretrained fails first.
  auto model = build_model(spec, o.seed);
  auto& net = dynamic_cast<nets::EfficientNet&>(*model);
  if (!o.pretrained.empty()) load_pretrained_base(net, o.pretrained);
  prepare_run_dir(o.out, o.overwrite, o.resume, "train-cls", train_config_json(o, spec), reads);

  io::TrainValSplit split = io::stratified_split(ds.training.samples, o.val_fraction, o.seed);
  const auto train_samples = thin(split.train, o.max_images);
  if (!o.quiet)
    std::cout << "train-cls: " << train_samples.size() << " training and " << split.val.size()
              << " validation images (split by seed " << o.seed << "), " << ds.testing.samples.size()
              << " test images; model " << spec.to_string() << "; run directory " << o.out << std::endl;
  std::vector<InputReport> inputs{classification_inputs(ds, ds.training, !o.keep_duplicates)};
  inputs[0].drop("max_images", split.train.size() - train_samples.size());
  inputs[0].used = train_samples.size() + split.val.size();
  if (ds.testing.present) {
    inputs.push_back(classification_inputs(ds, ds.testing, !o.keep_duplicates));
    inputs.back().used = ds.testing.samples.size();
  }
  print_inputs("train-cls", inputs, ds.skipped, "images", o.quiet);
  auto train_loader = make_loader(std::make_shared<io::ClassificationSource>(train_samples, pipeline(o.image_size, true)),
                                  o.batch_size, true, o.workers, o.seed, o.skip_bad);
  auto val_loader = make_loader(std::make_shared<io::ClassificationSource>(split.val, pipeline(o.image_size, false)),
                                o.batch_size, false, o.workers, 0, o.skip_bad);

  if (o.freeze_base) net.freeze_base(true);
  model->to(device);
  auto optimizer = make_adam(*model, o.lr, o.weight_decay, o.decoupled_weight_decay);
  ClassificationTask task(io::kNumTumourClasses);
  Trainer trainer(*model, *optimizer, task, trainer_options(o, spec, device));
  const InterruptGuard interrupts;  // SIGINT/SIGTERM from here on: apps/interrupt.h
  Json metrics;
  RunResult result = fit_run(trainer, *train_loader, val_loader.get(), o, spec, "accuracy", metrics);
  metrics["inputs"] = inputs_json(inputs, skipped_inputs(ds.skipped, {train_loader.get(), val_loader.get()}));
  result.validation = evaluate_split(trainer, task, split.val, o.image_size, o.batch_size, o.workers, o.out, "confusion");
  print_metrics("validation (best weights)", result.validation, o.quiet);
  metrics["validation"] = metrics_object(result.validation);
  if (!o.quiet) std::cout << task.confusion().to_string(class_names());
  if (ds.testing.present && !ds.testing.samples.empty()) {
    result.test = evaluate_split(trainer, task, ds.testing.samples, o.image_size, o.batch_size, o.workers, o.out,
                                 "confusion_test");
    print_metrics("test", result.test, o.quiet);
    metrics["test"] = metrics_object(result.test);
  }
  write_text_file(o.out + "/metrics.json", metrics.dump(2) + "\n");
  return result;
}

RunResult evaluate_classifier(EvalOptions o) {
  require_path(o.checkpoint, "--checkpoint");
  require_path(o.data, "--data");
  const InputPaths reads = {{"--checkpoint", o.checkpoint}, {"--data", o.data}};
  if (!o.out.empty()) check_run_dir(o.out, o.overwrite, false, "eval-cls", reads);
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  ModelSpec spec;
  auto model = load_model(o.checkpoint, "classifier", device, &spec);
  io::ClassificationDataset ds = open_dataset(o.data, false, o.keep_duplicates, o.quiet);
  std::vector<io::ClassificationSample> samples;
  std::vector<InputReport> inputs;
  auto report = [&](const io::ClassificationSplit& folder, size_t used, size_t outside) {
    inputs.push_back(classification_inputs(ds, folder, !o.keep_duplicates));
    inputs.back().used = used;
    inputs.back().outside_split = outside;
  };
  std::string split = o.split;
  if (split == "auto") split = ds.testing.present ? "test" : "val";
  if (split == "test") {
    GLIA_USAGE_CHECK(ds.testing.present, "--split test: " << o.data << " has no Testing/ folder");
    samples = ds.testing.samples;
    report(ds.testing, samples.size(), 0);
  } else if (split == "val") {
    GLIA_USAGE_CHECK(ds.training.present, "--split val: " << o.data << " has no Training/ folder");
    const io::TrainValSplit parts = io::stratified_split(ds.training.samples, o.val_fraction, o.seed);
    samples = parts.val;
    report(ds.training, parts.val.size(), parts.train.size());
  } else if (split == "all") {
    samples = ds.training.samples;
    samples.insert(samples.end(), ds.testing.samples.begin(), ds.testing.samples.end());
    if (ds.training.present) report(ds.training, ds.training.samples.size(), 0);
    if (ds.testing.present) report(ds.testing, ds.testing.samples.size(), 0);
  } else {
    throw UsageError("--split '" + o.split + "': expected test, val, all or auto");
  }
  if (o.out.empty()) o.out = default_run_dir("eval-cls");
  prepare_run_dir(o.out, o.overwrite, false, "eval-cls",
                  "{\"checkpoint\": " + Json(o.checkpoint).dump() + ", \"split\": " + Json(split).dump() + "}",
                  reads);
  Adam unused_optimizer({}, Adam::Options{});
  ClassificationTask task(io::kNumTumourClasses);
  TrainerOptions to;
  to.device = device;
  Trainer trainer(*model, unused_optimizer, task, to);
  RunResult result;
  result.dir = o.out;
  result.test = evaluate_split(trainer, task, samples, spec.image_size, o.batch_size, o.workers, o.out, "confusion");
  if (!o.quiet) {
    std::cout << "eval-cls: " << samples.size() << " images of split '" << split << "' with " << spec.to_string()
              << std::endl;
    print_inputs("eval-cls", inputs, ds.skipped, "images", false);
    print_metrics(split, result.test, false);
    std::cout << task.confusion().to_string(class_names());
  }
  Json metrics = Json::object();
  metrics["model"] = Json(spec.to_string());
  metrics["split"] = Json(split);
  metrics["inputs"] = inputs_json(inputs, ds.skipped);
  metrics[split] = metrics_object(result.test);
  Json per_class = Json::object();
  for (int c = 0; c < io::kNumTumourClasses; ++c) {
    const ClassScores s = task.confusion().scores(c);
    Json j = Json::object();
    j["precision"] = Json(s.precision);
    j["recall"] = Json(s.recall);
    j["f1"] = Json(s.f1);
    j["support"] = Json(s.support);
    per_class[io::tumour_class_names()[static_cast<size_t>(c)]] = j;
  }
  metrics["per_class"] = per_class;
  write_text_file(o.out + "/metrics.json", metrics.dump(2) + "\n");
  return result;
}

}  // namespace glia::app
