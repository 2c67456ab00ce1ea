// The glia command line: one function per subcommand, each taking its options struct, so
// `demo` and the tests call them directly. Errors are glia::Error (exit code 1) or
// UsageError (a bad flag value: exit code 2); messages name the flag, file or value.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "layers/module.h"
#include "train/trainer.h"

namespace glia::app {

class UsageError : public Error {
 public:
  using Error::Error;
};
#define GLIA_USAGE_CHECK(cond, ...)                 \
  do {                                              \
    if (!(cond)) {                                  \
      std::ostringstream glia_usage_;               \
      glia_usage_ << __VA_ARGS__;                   \
      throw ::glia::app::UsageError(glia_usage_.str()); \
    }                                               \
  } while (0)

// ---- options (defaults: the paper's hyper-parameters) ------------------------------------
struct TrainOptions {
  std::string data;        // dataset root (required)
  std::string out;         // run directory; empty: runs/<command>-<time>
  int epochs = 50;
  int batch_size = 32;
  // Not given: the model's default (classifier 240 px and 1e-3, U-Net 256 px and 1e-4);
  // an explicit value is checked like any other (0 is an error, not "the default").
  std::optional<int> image_size;
  std::optional<double> lr;
  double weight_decay = 1e-4;
  bool decoupled_weight_decay = false;  // AdamW instead of Adam's L2
  std::string device = "cpu";
  // fp32 | bf16 | fp16 (train/precision.h): autocast of the products, f32 master weights,
  // fp16's loss scaler. Recorded in run.json and the checkpoints; fixed for a run.
  std::string precision = "fp32";
  int threads = 0;         // OpenMP threads, 0: all cores
  int workers = 2;         // loader threads
  // Decoded images kept in memory across epochs (io/decoded_cache.h): auto (when the
  // estimate fits GLIA_CACHE_MB or half of MemAvailable), ram or off.
  std::string cache = "auto";
  uint64_t seed = 0;
  double val_fraction = 0.2;
  // Not given: the command's default. train-cls follows the paper (early stopping 5,
  // plateau patience 2, no floor); train-seg, whose schedule the paper leaves open, waits
  // longer on its noisier validation Dice (10 and 5) and floors the plateau at --lr / 100
  // (derived from --lr when the schedule is built, apps/train_common.cpp),
  // so a long run neither stalls at 1e-8 nor stops on one bad epoch.
  std::optional<int> patience;  // early stopping
  // Learning-rate schedule (train/lr_schedule.h) and time budget.
  std::string lr_schedule = "plateau";  // plateau | cosine | onecycle | constant
  std::optional<int> lr_patience;  // plateau: epochs without improvement before the rate drops
  double lr_factor = 0.3;    // plateau: the drop
  double min_lr = -1;        // < 0: the default (0, train-seg plateau --lr / 100; onecycle --lr / 25 / 1e4)
  double warmup_epochs = 0;  // linear warmup (not with onecycle); fractions allowed
  double time_limit = 0;     // minutes, 0: none
  size_t max_batches = 0;  // per epoch; 0: all
  size_t max_images = 0;   // cap on training images per epoch, by seed; 0: all
  std::string pretrained;  // weights file for the base (classifier) / whole model (U-Net)
  bool freeze_base = false;
  bool resume = false;
  bool overwrite = false;
  bool quiet = false;      // no progress output
  bool skip_bad = false;
  bool sync_bn = false;    // data parallel: batch-norm statistics over every rank's share
  // classifier
  std::string model = "b1";
  // classifier: a fine-tuning phase after the head-only (--freeze-base) phase
  int fine_tune_epochs = 0;
  std::optional<double> fine_tune_lr;  // not given: --lr / 10
  int fine_tune_blocks = 0;            // 0: the whole base, else its last K entries
  std::string fine_tune_bn = "train";  // train | frozen (Keras's fine-tuning guide)
  bool keep_duplicates = false;  // train and test on the folders as published (byte-identical copies kept)
  // U-Net
  int width = 64, depth = 4;
  double test_fraction = 0.15;
  int positive_repeat = 1;
};

struct EvalOptions {
  std::string checkpoint;  // required
  std::string data;        // required
  std::string out;         // empty: runs/<command>-<time>
  std::string split = "auto";  // classifier: test | val | all | auto; U-Net: test | val | all | auto
  // The split of --split val/test. Not given: what the checkpoint records of its training
  // run (an explicit value that contradicts it is an error); for checkpoints that record
  // none, the training defaults (classifier val 0.2; U-Net val 0.15, test 0.15; seed 0).
  std::optional<double> val_fraction, test_fraction;
  std::optional<uint64_t> seed;
  int batch_size = 32;
  std::string device = "cpu";
  int threads = 0, workers = 2;
  size_t examples = 8;  // overlays written (U-Net)
  bool keep_duplicates = false;  // classifier: evaluate the split as published, copies included
  bool overwrite = false;
  bool quiet = false;
};

struct PredictOptions {
  std::vector<std::string> inputs;  // images or folders of images
  std::string classifier, segmenter;  // checkpoints; segmenter optional
  std::string out;
  std::string device = "cpu";
  int threads = 0;
  bool overwrite = false;
  bool quiet = false;
  // Without it every input is decoded before anything is written and any unreadable one
  // is an error naming each; with it they are left out and listed (output, predictions.csv).
  bool skip_bad = false;
  // Also writes <name>_gradcam.png: Grad-CAM of the predicted class (nets/gradcam.h).
  bool explain = false;
};

struct DemoOptions {
  std::string data;  // empty: synthetic phantoms; else a folder holding brain-tumor-mri/ and lgg-mri-segmentation/kaggle_3m/
  std::string out;
  int epochs = 0;    // 0: the demo's own
  std::string device = "cpu";
  int threads = 0;
  uint64_t seed = 0;
  bool overwrite = false;
  bool quiet = false;
};

struct InfoOptions {
  std::string model = "b1";  // b0..b7, lite0..lite4 (paper head) or unet
  std::optional<int> image_size;  // not given: 240 (classifier) / 256 (U-Net)
  int width = 64, depth = 4;
  int batch = 1;
  std::string checkpoint;    // describe the model of a checkpoint instead
};

// Results, for the demo's summary and the tests.
struct RunResult {
  std::string dir;
  Metrics validation, test;
  FitResult fit;
  double seconds_per_epoch = 0;
};

RunResult train_classifier(TrainOptions options);
RunResult train_segmenter(TrainOptions options);
RunResult evaluate_classifier(EvalOptions options);
RunResult evaluate_segmenter(EvalOptions options);
int predict(PredictOptions options);
int demo(DemoOptions options);
int info(const InfoOptions& options);

// The whole command line; returns the exit code (0 ok, 1 runtime error, 2 usage).
int main_cli(int argc, char** argv);

// ---- shared pieces (apps/common.cpp) ------------------------------------------------------
// What a checkpoint needs to rebuild its model: "classifier:b1:240" or "unet:64:4:256";
// a classifier whose pretrained weights came with an input normalisation carries it:
// "classifier:lite1:240:norm=0.498039216,0.498039216,0.498039216/0.501960784,...".
struct ModelSpec {
  std::string kind;  // "classifier" | "unet"
  std::string variant = "b1";
  int width = 64, depth = 4;
  int image_size = 0;
  std::vector<float> input_mean, input_std;  // classifier: applied in its forward; empty: none
  std::string to_string() const;
  std::string to_json() const;  // the same as a JSON object (checkpoint model_config)
  static ModelSpec parse(const std::string& s, const std::string& what);
};
std::shared_ptr<nn::Module> build_model(const ModelSpec& spec, uint64_t seed);
void check_image_size(const ModelSpec& spec);  // UsageError naming --image-size
// The model of `--model b0..b7|lite0..lite4|unet --width --depth --image-size` (info,
// profile): the default size is the model's (240 classifier, 256 U-Net); checked.
ModelSpec model_spec_from_flags(const std::string& model, int width, int depth, std::optional<int> image_size);
// Side of the smallest feature map the model computes at spec.image_size, where batch
// norm sees the fewest values per channel (EfficientNet: five stride-2 stages with
// padding (k-1)/2, ceil(size/32); U-Net: the bottleneck, size/2^depth).
int smallest_feature_map(const ModelSpec& spec);
// The spec stored in a checkpoint, and the model with its weights (moved to `device`).
ModelSpec checkpoint_spec(const std::string& path);
std::shared_ptr<nn::Module> load_model(const std::string& path, const std::string& expected_kind, Device device,
                                       ModelSpec* spec = nullptr);

Device parse_device_flag(const std::string& name);  // UsageError when unknown or unavailable
void set_threads(int threads);
std::string default_run_dir(const std::string& command);
// The files a command reads, as (flag, path): its --out may not hold any of them.
using InputPaths = std::vector<std::pair<std::string, std::string>>;
// Creates `dir` for a new run (apps/run_dir.cpp). An existing non-empty one is replaced
// only with overwrite, only when it is a run of the same `command`, and never when it
// holds one of `inputs` or (for commands that write none) checkpoints; resume needs its
// last.ckpt and removes temporary files killed runs left there. Writes run.json.
void prepare_run_dir(const std::string& dir, bool overwrite, bool resume, const std::string& command,
                     const std::string& config_json, const InputPaths& inputs = {});
// The checks of prepare_run_dir alone, with no side effect: commands call it first, so a
// refused --out costs no model or dataset loading.
void check_run_dir(const std::string& dir, bool overwrite, bool resume, const std::string& command,
                   const InputPaths& inputs = {});
// Removes write_file_atomically's leftovers ("<name>.tmp.<pid>" of a process that is
// gone) from `dir`, saying so on stderr; returns how many.
size_t remove_stale_temp_files(const std::string& dir);
// Atomically (temporary file, rename): on failure an error naming `path` and the reason,
// and the previous file, if any, intact.
void write_text_file(const std::string& path, const std::string& text);
void require_path(const std::string& path, const std::string& flag);  // UsageError naming the flag
std::string metrics_json(const Metrics& metrics);

// Progress printing: a bar on a terminal, plain lines otherwise.
ProgressCallback progress_printer(const std::string& metric_name, bool quiet);

}  // namespace glia::app
