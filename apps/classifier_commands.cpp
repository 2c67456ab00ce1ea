// train-cls and eval-cls: the EfficientNet classifier on the Nickparvar layout.
#include <array>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "apps/input_report.h"
#include "apps/interrupt.h"
#include "apps/train_common.h"
#include "apps/weights.h"
#include "io/classification_dataset.h"
#include "apps/data_parallel_run.h"
#include "apps/plots.h"
#include "layers/basic.h"
#include "nets/efficientnet.h"
#include "tensor/json.h"
#include "tensor/random.h"
#include "train/classification_trainer.h"
#include "train/trainer_checkpoint.h"

namespace glia::app {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> class_names() {
  std::vector<std::string> names;
  for (const char* n : io::tumour_class_names()) names.push_back(n);
  return names;
}

// With skip_bad every image is decoded while opening, so the files left out are known
// before training (the class check below sees them; no batch shrinks mid-epoch).
io::ClassificationDataset open_dataset(const std::string& root, bool skip_bad, bool keep_duplicates, bool quiet,
                                       int threads = 0) {
  io::ClassificationDatasetOptions o;
  o.skip_bad = skip_bad;
  o.verify_decode = skip_bad;
  o.threads = threads > 0 ? threads : 2;
  // Dropped by default: no copy of a validation/test image in training, no image counted
  // twice in a score. What is dropped is reported (apps/input_report.h).
  o.drop_duplicates = !keep_duplicates;
  o.quiet = quiet;
  io::ClassificationDataset ds = io::open_classification_dataset(root, o);
  GLIA_USAGE_CHECK(ds.training.present || ds.testing.present,
                   "--data " << root << ": holds neither Training/ nor Testing/ (the brain-tumor-mri layout)");
  return ds;
}

// Loads the feature extractor ("features.*") of pretrained weights into the classifier.
// Errors name the weights, the model and the first mismatching tensor.
void load_pretrained_base(nets::EfficientNet& model, const PretrainedWeights& w, const std::string& variant) {
  const std::string base = nets::efficientnet_config(variant).name;
  const std::string what = w.label + (w.model.empty() ? "" : ", weights of " + w.model) + ", for the model " + base +
                           " (--model " + variant + ")";
  // The file's base and the model's own head (copied onto itself): errors then name
  // tensors by their full names, and a file's other head is no concern.
  std::map<std::string, Tensor> source;
  for (auto& [name, t] : w.tensors)
    if (name.rfind("features.", 0) == 0) source[name] = t;
  GLIA_CHECK(!source.empty(), what << ": holds no 'features.*' tensor (an EfficientNet base)");
  for (auto& [name, t] : model.state_dict())
    if (name.rfind("features.", 0) != 0) source[name] = t;
  load_module_state(model, source, what);
  // Same shapes but another network (its metadata says so): still refuse.
  GLIA_CHECK(w.model.empty() || w.model == base, what << ": the file says it holds " << w.model << " weights");
}

// The fine-tuning phase's trainable part: the whole base, or its last `blocks` entries
// (features: stem, the MBConv stages, the 1x1 head convolution). With frozen_bn the base's
// batch norms stay frozen (inference mode, scale and shift fixed), as Keras's fine-tuning
// guide advises; else they train (batch statistics), as a PyTorch user's model.train().
void unfreeze_base(nets::EfficientNet& net, int blocks, bool frozen_bn) {
  nn::Sequential* features = net.features();
  net.freeze_base(false);
  for (int64_t i = 0; blocks > 0 && i < features->size() - blocks; ++i) features->at(i)->freeze(true);
  if (frozen_bn)
    for (auto& [name, m] : features->named_modules())
      if (dynamic_cast<nn::BatchNorm2d*>(m) != nullptr) m->freeze(true);
}

Metrics evaluate_split(Trainer& trainer, ClassificationTask& task, const std::vector<io::ClassificationSample>& samples,
                       int size, int batch_size, int workers, const std::string& dir, const std::string& tag,
                       std::shared_ptr<io::DecodedCache> cache = nullptr) {
  auto source = std::make_shared<io::ClassificationSource>(samples, pipeline(size, false), std::move(cache));
  auto loader = make_loader(source, batch_size, false, workers, 0, false);
  Metrics m = trainer.evaluate(*loader);  // data parallel: on shards, counts combined
  if (!writes_outputs()) return m;
  app::write_confusion_png(dir + "/" + tag + ".png", task.confusion(), class_names());
  write_text_file(dir + "/" + tag + ".txt", task.confusion().to_string(class_names()));
  return m;
}

Json metrics_object(const Metrics& m) { return Json::parse(metrics_json(m), "metrics"); }

// A training image's name in the split record: "<class>/<file>", whatever --data is.
std::string split_name(const std::string& path) {
  const std::filesystem::path p(path);
  return (p.parent_path().filename() / p.filename()).generic_string();
}

// Each class needs at least this many training images (after --skip-bad and duplicate
// removal): one to train on and one to validate.
constexpr size_t kMinImagesPerClass = 2;

// Refuses a training set where a class cannot be learnt and validated, naming the class
// and what --skip-bad left out of its folder; a 4-class model with an absent class would
// report macro metrics over a class it never saw.
void check_classes(const std::string& root, const io::ClassificationSplit& training, const io::TrainValSplit& split,
                   double val_fraction, bool skip_bad) {
  std::array<size_t, io::kNumTumourClasses> in_train{}, in_val{};
  for (const auto& s : split.train) ++in_train[static_cast<size_t>(s.label)];
  for (const auto& s : split.val) ++in_val[static_cast<size_t>(s.label)];
  for (size_t c = 0; c < io::kNumTumourClasses; ++c) {
    const std::string name = io::tumour_class_names()[c];
    const std::string folder = (std::filesystem::path(root) / "Training" / name).string();
    const size_t n = training.class_counts[c], skipped = training.skipped_per_class[c];
    std::ostringstream why;
    if (skip_bad) why << " after --skip-bad left out " << skipped << " bad file" << (skipped == 1 ? "" : "s") << " there";
    GLIA_CHECK(n >= kMinImagesPerClass, "class '" << name << "' (" << folder << ") has " << n << " usable training image"
                                                  << (n == 1 ? "" : "s") << why.str() << "; each class needs at least "
                                                  << kMinImagesPerClass
                                                  << " (one to train on, one to validate), so glia will not train a "
                                                  << io::kNumTumourClasses << "-class model without it");
    GLIA_USAGE_CHECK(in_train[c] > 0 && in_val[c] > 0,
                     "--val-fraction " << val_fraction << ": class '" << name << "' gets " << in_train[c]
                                       << " training and " << in_val[c] << " validation images of its " << n
                                       << "; each class needs both, so change --val-fraction or add images");
  }
}

Json split_record(const TrainOptions& o, const io::TrainValSplit& split) {
  Json j = Json::object();
  j["val_fraction"] = Json(o.val_fraction);
  j["seed"] = Json(std::to_string(o.seed));
  Json files = Json::array();
  for (const auto& s : split.val) files.push_back(Json(split_name(s.path)));
  j["val_files"] = files;
  return j;
}

// The validation images a checkpoint's training run used, found in `training`.
std::vector<io::ClassificationSample> recorded_val(const Json& record, const std::vector<io::ClassificationSample>& training,
                                                   const std::string& checkpoint, const std::string& root) {
  std::map<std::string, const io::ClassificationSample*> by_name;
  for (const auto& s : training) by_name[split_name(s.path)] = &s;
  std::vector<io::ClassificationSample> out;
  std::vector<std::string> missing;
  for (const auto& name : record.at("val_files").items()) {
    auto it = by_name.find(name.as_string());
    if (it == by_name.end()) missing.push_back(name.as_string());
    else out.push_back(*it->second);
  }
  GLIA_CHECK(missing.empty(), "--split val: " << missing.size() << " of the " << record.at("val_files").size()
                                              << " validation images recorded in " << checkpoint << " are not in "
                                              << root << "/Training (first: " << (missing.empty() ? "" : missing[0])
                                              << "); is --data the dataset that run trained on?");
  return out;
}

}  // namespace

RunResult train_classifier(TrainOptions o) {
  if (!o.image_size) o.image_size = 240;
  if (!o.lr) o.lr = 1e-3;
  if (!o.patience) o.patience = 5;
  if (!o.lr_patience) o.lr_patience = 2;
  check_train_options(o);
  const int size = *o.image_size;
  if (o.fine_tune_epochs > 0 && !o.fine_tune_lr) o.fine_tune_lr = *o.lr / 10;
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  check_precision_on_device(o.precision, device);
  ModelSpec spec;
  spec.kind = "classifier";
  spec.variant = o.model;
  spec.image_size = size;
  check_image_size(spec);
  if (o.out.empty()) o.out = default_run_dir("train-cls");
  const InputPaths reads = {{"--data", o.data}, {"--pretrained", o.pretrained}};
  if (writes_outputs()) check_run_dir(o.out, o.overwrite, o.resume, "train-cls", reads);

  io::ClassificationDataset ds = open_dataset(o.data, o.skip_bad, o.keep_duplicates, o.quiet, o.threads);
  GLIA_USAGE_CHECK(ds.training.present, "--data " << o.data << ": has no Training/ folder to train on");
  // Everything that can be refused is checked before the run dir is touched: the data,
  // the split, the batches, --model and --pretrained.
  io::TrainValSplit split = io::stratified_split(ds.training.samples, o.val_fraction, o.seed);
  check_classes(o.data, ds.training, split, o.val_fraction, o.skip_bad);
  const auto train_samples = thin(split.train, o.max_images);
  check_batch_norm_batches(spec, o.batch_size, train_samples.size(), o.sync_bn);
  // The weights' input normalisation becomes the model's (and so the checkpoint's); a
  // resumed run keeps the one its checkpoint was trained with.
  PretrainedWeights pretrained;
  if (!o.pretrained.empty()) {
    pretrained = open_pretrained(o.pretrained, o.quiet);
    spec.input_mean = pretrained.input_mean;
    spec.input_std = pretrained.input_std;
  } else if (o.resume && fs::exists(o.out + "/last.ckpt")) {
    const ModelSpec saved = checkpoint_spec(o.out + "/last.ckpt");
    spec.input_mean = saved.input_mean;
    spec.input_std = saved.input_std;
  }
  auto model = build_model(spec, o.seed);
  auto& net = dynamic_cast<nets::EfficientNet&>(*model);
  GLIA_USAGE_CHECK(o.fine_tune_blocks <= net.features()->size(),
                   "--fine-tune-blocks " << o.fine_tune_blocks << ": the base of " << o.model << " has "
                                         << net.features()->size() << " entries (stem, stages, head convolution)");
  if (!o.pretrained.empty()) {
    load_pretrained_base(net, pretrained, o.model);
    if (!o.quiet) {
      std::cout << "train-cls: base weights from " << pretrained.label;
      if (spec.input_mean.empty()) {
        std::cout << "; they name no input normalisation, so pixels go in as they are (0..1)";
      } else {
        std::cout << "; the model normalises its input as they were trained: (x - mean) / std, mean";
        for (float m : spec.input_mean) std::cout << " " << m;
        std::cout << ", std";
        for (float d : spec.input_std) std::cout << " " << d;
      }
      std::cout << std::endl;
    }
  }
  const auto cache = make_cache(o, train_samples.size() + split.val.size(), pipeline(size, false), false);
  if (writes_outputs()) prepare_run_dir(o.out, o.overwrite, o.resume, "train-cls", train_config_json(o, spec), reads);

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
  auto train_loader = make_loader(std::make_shared<io::ClassificationSource>(train_samples, pipeline(size, true), cache),
                                  o.batch_size, true, o.workers, o.seed, o.skip_bad);
  auto val_loader = make_loader(std::make_shared<io::ClassificationSource>(split.val, pipeline(size, false), cache),
                                o.batch_size, false, o.workers, 0, o.skip_bad);

  if (o.freeze_base) net.freeze_base(true);
  model->to(device);
  auto optimizer = make_adam(*model, *o.lr, o.weight_decay, o.decoupled_weight_decay);
  ClassificationTask task(io::kNumTumourClasses);
  TrainerOptions to = trainer_options(o, spec, device);
  to.model_config["split"] = split_record(o, split);  // eval-cls --split val evaluates the same images
  std::unique_ptr<Optimizer> fine_tune_optimizer;  // phase 2's, over the unfrozen parameters
  if (o.fine_tune_epochs > 0) {
    to.fine_tune.epochs = o.fine_tune_epochs;
    to.fine_tune.start = [&]() -> Optimizer& {
      unfreeze_base(net, o.fine_tune_blocks, o.fine_tune_bn == "frozen");
      fine_tune_optimizer = make_adam(*model, *o.fine_tune_lr, o.weight_decay, o.decoupled_weight_decay);
      return *fine_tune_optimizer;
    };
  }
  Trainer trainer(*model, *optimizer, task, to);
  const InterruptGuard interrupts;  // SIGINT/SIGTERM from here on: apps/interrupt.h
  Json metrics;
  RunResult result = fit_run(trainer, *train_loader, val_loader.get(), o, spec, "accuracy", metrics);
  metrics["inputs"] = inputs_json(inputs, skipped_inputs(ds.skipped, {train_loader.get(), val_loader.get()}));
  result.validation =
      evaluate_split(trainer, task, split.val, size, o.batch_size, o.workers, o.out, "confusion", cache);
  print_metrics("validation (best weights)", result.validation, o.quiet);
  metrics["validation"] = metrics_object(result.validation);
  if (!o.quiet) std::cout << task.confusion().to_string(class_names());
  if (ds.testing.present && !ds.testing.samples.empty()) {
    result.test = evaluate_split(trainer, task, ds.testing.samples, size, o.batch_size, o.workers, o.out,
                                 "confusion_test");
    print_metrics("test", result.test, o.quiet);
    metrics["test"] = metrics_object(result.test);
  }
  if (writes_outputs()) write_text_file(o.out + "/metrics.json", metrics.dump(2) + "\n");
  return result;
}

RunResult evaluate_classifier(EvalOptions o) {
  require_path(o.checkpoint, "--checkpoint");
  require_path(o.data, "--data");
  check_eval_options(o);
  const InputPaths reads = {{"--checkpoint", o.checkpoint}, {"--data", o.data}};
  if (!o.out.empty()) check_run_dir(o.out, o.overwrite, false, "eval-cls", reads);
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  ModelSpec spec;
  auto model = load_model(o.checkpoint, "classifier", device, &spec);
  // The training run's split, as its checkpoint records it; flags only for older ones.
  const Json record = checkpoint_split(o.checkpoint);
  const double val_fraction = split_setting(record, "val_fraction", o.val_fraction, 0.2, o.checkpoint);
  const uint64_t seed = split_seed(record, o.seed, o.checkpoint);
  io::ClassificationDataset ds = open_dataset(o.data, false, o.keep_duplicates, o.quiet, o.threads);
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
    if (record.is_object()) {
      samples = recorded_val(record, ds.training.samples, o.checkpoint, o.data);
    } else {
      if (!o.quiet)
        std::cout << "note: " << o.checkpoint << " records no training split (written by an older glia); "
                  << "--split val uses --val-fraction " << val_fraction << " --seed " << seed
                  << ", which must be the training run's" << std::endl;
      samples = io::stratified_split(ds.training.samples, val_fraction, seed).val;
    }
    report(ds.training, samples.size(), ds.training.samples.size() - samples.size());
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
  metrics["images"] = Json(static_cast<int64_t>(samples.size()));
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
