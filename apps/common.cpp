#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/app.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/json.h"
#include "tensor/random.h"
#include "train/trainer_checkpoint.h"

namespace glia::app {
namespace fs = std::filesystem;

namespace {

// 9 significant digits: a float comes back bit for bit.
std::string float_list(const std::vector<float>& v) {
  std::ostringstream s;
  s << std::setprecision(9);
  for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

std::vector<float> parse_float_list(const std::string& text) {
  std::vector<float> v;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ',');) {
    size_t used = 0;
    v.push_back(std::stof(p, &used));
    if (used != p.size()) throw std::invalid_argument(p);
  }
  return v;
}

}  // namespace

std::string ModelSpec::to_string() const {
  std::ostringstream s;
  if (kind == "classifier") s << "classifier:" << variant << ":" << image_size;
  else s << "unet:" << width << ":" << depth << ":" << image_size;
  if (!input_mean.empty()) s << ":norm=" << float_list(input_mean) << "/" << float_list(input_std);
  return s.str();
}

std::string ModelSpec::to_json() const {
  Json j = Json::object();
  j["kind"] = Json(kind);
  if (kind == "classifier") {
    j["variant"] = Json(variant);
    j["classes"] = Json(4);
  } else {
    j["width"] = Json(width);
    j["depth"] = Json(depth);
  }
  j["image_size"] = Json(image_size);
  if (!input_mean.empty()) {
    Json mean = Json::array(), stdev = Json::array();
    for (float m : input_mean) mean.push_back(Json(static_cast<double>(m)));
    for (float d : input_std) stdev.push_back(Json(static_cast<double>(d)));
    j["input_mean"] = mean;
    j["input_std"] = stdev;
  }
  return j.dump();
}

ModelSpec ModelSpec::parse(const std::string& text, const std::string& what) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
  ModelSpec s;
  try {
    const bool norm = parts.size() == 4 && parts[3].rfind("norm=", 0) == 0;
    if ((parts.size() == 3 || norm) && parts[0] == "classifier") {
      s.kind = parts[0];
      s.variant = parts[1];
      s.image_size = std::stoi(parts[2]);
      if (norm) {
        const std::string n = parts[3].substr(5);
        const size_t slash = n.find('/');
        if (slash == std::string::npos) throw std::invalid_argument(n);
        s.input_mean = parse_float_list(n.substr(0, slash));
        s.input_std = parse_float_list(n.substr(slash + 1));
        if (s.input_mean.size() != 3 || s.input_std.size() != 3) throw std::invalid_argument(n);
      }
      return s;
    }
    if (parts.size() == 4 && parts[0] == "unet") {
      s.kind = parts[0];
      s.width = std::stoi(parts[1]);
      s.depth = std::stoi(parts[2]);
      s.image_size = std::stoi(parts[3]);
      return s;
    }
  } catch (const std::exception&) {
  }
  GLIA_FAIL(what << ": model description '" << text
                 << "' is not 'classifier:<b0..b7|lite0..lite4>:<size>[:norm=<mean>/<std>]' or "
                    "'unet:<width>:<depth>:<size>'");
}

void check_image_size(const ModelSpec& spec) {
  if (spec.kind == "unet") {
    GLIA_USAGE_CHECK(spec.width >= 1 && spec.depth >= 1 && spec.depth <= 8,
                     "--width " << spec.width << " / --depth " << spec.depth << ": need width >= 1, depth 1..8");
    const int factor = 1 << spec.depth;
    GLIA_USAGE_CHECK(spec.image_size >= factor && spec.image_size % factor == 0,
                     "--image-size " << spec.image_size << ": the U-Net of depth " << spec.depth
                                     << " needs a size that is a positive multiple of 2^depth = " << factor);
  } else {
    GLIA_USAGE_CHECK(spec.image_size >= 32 && spec.image_size <= 2048,
                     "--image-size " << spec.image_size
                                     << ": EfficientNet down-samples by 32, so the size must be in [32, 2048]");
  }
}

ModelSpec model_spec_from_flags(const std::string& model, int width, int depth, std::optional<int> image_size) {
  ModelSpec spec;
  if (model == "unet") {
    spec.kind = "unet";
    spec.width = width;
    spec.depth = depth;
    spec.image_size = image_size.value_or(256);
  } else {
    spec.kind = "classifier";
    spec.variant = model;
    spec.image_size = image_size.value_or(240);
  }
  check_image_size(spec);
  return spec;
}

int smallest_feature_map(const ModelSpec& spec) {
  if (spec.kind == "unet") return spec.image_size >> spec.depth;
  int side = spec.image_size;
  for (int stage = 0; stage < 5; ++stage) side = (side + 1) / 2;
  return side;
}

std::shared_ptr<nn::Module> build_model(const ModelSpec& spec, uint64_t seed) {
  // The layers keep the generator they are given for dropout and stochastic depth, so
  // they get none: initialisation and those draws use the default generator, whose state
  // the trainer saves in checkpoints (a resumed run draws the same masks).
  manual_seed(seed);
  if (spec.kind == "classifier") {
    nets::EfficientNetConfig c;
    try {
      c = nets::efficientnet_config(spec.variant, 4);
    } catch (const Error& e) {
      throw UsageError(std::string("--model ") + spec.variant + ": " + e.what());
    }
    c.name += "_classifier";
    c.hidden = 512;  // the paper's head: GAP, Dense 512 ReLU, Dropout 0.4, Dense 4
    c.dropout = 0.4;
    c.input_mean = spec.input_mean;
    c.input_std = spec.input_std;
    return std::make_shared<nets::EfficientNet>(c);
  }
  GLIA_CHECK(spec.kind == "unet", "unknown model kind '" << spec.kind << "'");
  nets::UNetConfig c;
  c.width = spec.width;
  c.depth = spec.depth;
  return std::make_shared<nets::UNet>(c);
}

ModelSpec checkpoint_spec(const std::string& path) {
  std::string name;
  read_model_weights(path, &name);
  GLIA_CHECK(!name.empty(), path << " holds no model description (not written by glia train-cls/train-seg)");
  return ModelSpec::parse(name, path);
}

std::shared_ptr<nn::Module> load_model(const std::string& path, const std::string& expected_kind, Device device,
                                       ModelSpec* spec_out) {
  require_path(path, "--checkpoint");
  std::string name;
  auto weights = read_model_weights(path, &name);
  GLIA_CHECK(!name.empty(), path << " holds no model description (not written by glia train-cls/train-seg)");
  const ModelSpec spec = ModelSpec::parse(name, path);
  GLIA_CHECK(spec.kind == expected_kind, "checkpoint " << path << " holds a " << spec.kind << " ('" << name
                                                       << "'), this command needs a " << expected_kind);
  auto model = build_model(spec, 0);
  load_module_state(*model, weights, "checkpoint " + path);
  model->to(device);
  model->eval();
  if (spec_out) *spec_out = spec;
  return model;
}

Device parse_device_flag(const std::string& name) {
  Device d;
  try {
    d = parse_device(name);
  } catch (const Error&) {
    throw UsageError("--device '" + name + "': unknown device (cpu, sim or cuda)");
  }
  const std::string why = device_unavailable_reason(d);
  GLIA_USAGE_CHECK(why.empty(), "--device " << name << ": not available in this build or on this machine: " << why);
  return d;
}

void set_threads(int threads) {
  GLIA_USAGE_CHECK(threads >= 0, "--threads " << threads << " must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
}

std::string default_run_dir(const std::string& command) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream s;
  s << "runs/" << command << "-" << std::put_time(&tm, "%Y%m%d-%H%M%S");
  std::string dir = s.str();
  for (int i = 2; fs::exists(dir); ++i) dir = s.str() + "-" + std::to_string(i);
  return dir;
}

void require_path(const std::string& path, const std::string& flag) {
  GLIA_USAGE_CHECK(!path.empty(), flag << " is required");
  GLIA_USAGE_CHECK(fs::exists(path), flag << " " << path << ": no such file or directory");
}

std::string metrics_json(const Metrics& metrics) {
  Json j = Json::object();
  for (const auto& [k, v] : metrics) j[k] = std::isfinite(v) ? Json(v) : Json();
  return j.dump(2);
}

namespace {

std::string clock_str(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long s = static_cast<long>(seconds + 0.5);
  std::ostringstream o;
  o << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
  return o.str();
}

}  // namespace

ProgressCallback progress_printer(const std::string& metric, bool quiet) {
  const bool tty = isatty(STDOUT_FILENO) == 1;
  return [metric, quiet, tty](const ProgressEvent& e) {
    if (quiet) return;
    std::ostringstream line;
    line << std::setprecision(4);
    switch (e.kind) {
      case ProgressEvent::Kind::epoch_begin:
        if (!tty) std::cout << "epoch " << e.epoch << "/" << e.epochs << " (" << e.batches << " batches, lr "
                            << e.lr << ")" << std::endl;
        return;
      case ProgressEvent::Kind::batch_end: {
        // Plain output: about ten lines an epoch.
        const size_t every = std::max<size_t>(1, e.batches / 10);
        if (!tty && e.batch % every != 0 && e.batch != e.batches) return;
        const int width = 24;
        const int filled = e.batches ? static_cast<int>(width * e.batch / e.batches) : width;
        line << "epoch " << e.epoch << "/" << e.epochs << " ";
        if (tty) line << "[" << std::string(filled, '=') << std::string(width - filled, ' ') << "] ";
        line << e.batch << "/" << e.batches << " loss " << e.loss << " " << metric << " " << e.metric << " "
             << std::setprecision(3) << e.images_per_second << " img/s ETA " << clock_str(e.eta_seconds);
        if (tty) std::cout << "\r" << line.str() << "\033[K" << std::flush;
        else std::cout << "  " << line.str() << std::endl;
        return;
      }
      case ProgressEvent::Kind::epoch_end: {
        const HistoryRow& r = *e.row;
        line << "epoch " << r.epoch << "/" << e.epochs << ": loss " << r.loss << " " << metric << " " << r.metric;
        if (std::isfinite(r.val_loss)) line << " val_loss " << r.val_loss << " val_" << metric << " " << r.val_metric;
        line << " lr " << r.lr << " " << std::setprecision(3) << r.seconds << "s " << r.images_per_second
             << " img/s";
        if (!e.message.empty()) line << " (" << e.message << ")";
        std::cout << (tty ? "\r" : "") << line.str() << (tty ? "\033[K" : "") << std::endl;
        return;
      }
      case ProgressEvent::Kind::message:
        std::cout << e.message << std::endl;
        return;
    }
  };
}

}  // namespace glia::app
