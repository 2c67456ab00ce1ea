// The trainer's resumable state: what a checkpoint holds besides the weights (optimizer,
// schedule, early stopping, generators, history, phase, precision, world size) and how
// --resume reads it back, checking it belongs to this run. Split from trainer.cpp, which
// keeps the training loop.
#include "train/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "kernels/error.h"
#include "tensor/random.h"
#include "train/checkpoint.h"
#include "train/trainer_checkpoint.h"

namespace glia {

Json Trainer::state_json(const std::string& order_key) const {
  Json s = Json::object();
  s["epoch"] = Json(epoch_);
  // Doubles that must come back bit for bit travel as text with 17 digits
  // (train/trainer_checkpoint.h): the learning rate and the callbacks' state.
  char lr[40];
  std::snprintf(lr, sizeof lr, "%.17g", optimizer_->lr());
  s["lr"] = Json(std::string(lr));
  s["data_order"] = Json(order_key);
  s["lr_schedule"] = Json(exact_json(schedule_->state()));
  s["early_stopping"] = Json(exact_json(early_.state()));
  s["phase"] = Json(phase_);
  s["phase_start_epoch"] = Json(phase_start_);
  s["elapsed_seconds"] = Json(elapsed_);
  const GeneratorState rng = default_generator().state();
  // uint64 as strings: JSON numbers are doubles and would round them.
  s["rng_seed"] = Json(std::to_string(rng.seed));
  s["rng_offset"] = Json(std::to_string(rng.offset));
  Json rows = Json::array();
  for (const auto& r : history_) {
    Json row = Json::array();
    for (double v : {static_cast<double>(r.epoch), r.lr, r.loss, r.metric, r.val_loss, r.val_metric, r.seconds,
                     r.images_per_second, static_cast<double>(r.phase), static_cast<double>(r.skipped_steps)})
      row.push_back(std::isfinite(v) ? Json(v) : Json());
    rows.push_back(row);
  }
  s["history"] = Json(exact_json(rows));
  s["task"] = Json(task_.name());
  s["precision"] = Json(precision_name(options_.precision));
  if (scaler_) s["grad_scaler"] = Json(exact_json(scaler_->state()));
  if (distributed()) s["world_size"] = Json(options_.comm->size());
  return s;
}

void Trainer::save_checkpoints(const std::string& order_key, bool best) {
  Checkpoint ck;
  ck.model = options_.model_name;
  ck.model_config = options_.model_config;
  ck.model_state = model_.state_dict();
  ck.optimizer_tensors = optimizer_->state_tensors();
  ck.optimizer_state = optimizer_->state_json();
  ck.trainer_state = state_json(order_key);
  // best.ckpt first: when a kill comes between the two, last.ckpt still describes a
  // state whose best weights are on disk.
  if (best) {
    Checkpoint b = ck;
    b.optimizer_tensors.clear();
    b.optimizer_state = Json::object();
    save_checkpoint(options_.checkpoint_dir + "/best.ckpt", b);
  }
  save_checkpoint(options_.checkpoint_dir + "/last.ckpt", ck);
}

void Trainer::set_base_lr(double lr) {
  schedule_->set_base_lr(lr);
  schedule_->apply(*optimizer_);
}

void Trainer::resume(const std::string& data_order_key) {
  GLIA_CHECK(!options_.checkpoint_dir.empty(), "resume: no checkpoint directory was given");
  const std::string path = options_.checkpoint_dir + "/last.ckpt";
  GLIA_CHECK(std::filesystem::exists(path), "resume: checkpoint " << path << " does not exist");
  const Checkpoint ck = load_checkpoint(path);
  require_model(ck, options_.model_name, path);
  const Json& s = ck.trainer_state;
  GLIA_CHECK(s.is_object() && s.contains("task"), "resume: " << path << " holds no trainer state");
  GLIA_CHECK(s.at("task").as_string() == task_.name(),
             "resume: checkpoint " << path << " is from a " << s.at("task").as_string() << " run");
  // Precision changes the meaning of the state (fp16's scaler): a run keeps its precision.
  const std::string precision = s.contains("precision") ? s.at("precision").as_string() : "fp32";
  GLIA_CHECK(precision == precision_name(options_.precision),
             "resume: checkpoint " << path << " was trained with precision " << precision << ", not "
                                   << precision_name(options_.precision) << " (resume with --precision " << precision
                                   << "; a run cannot change precision midway)");
  if (scaler_) {
    GLIA_CHECK(s.contains("grad_scaler"), "resume: fp16 checkpoint " << path << " holds no loss scaler state");
    scaler_->load_state(Json::parse(s.at("grad_scaler").as_string(), path + " loss scaler state"));
  }
  // Another number of ranks splits every global batch differently (and, without
  // --sync-bn, gives batch norm other statistics): not the run that was interrupted.
  const int64_t world = s.contains("world_size") ? s.at("world_size").as_integer() : 1;
  const int64_t now_world = options_.comm ? options_.comm->size() : 1;
  GLIA_CHECK(world == now_world, "resume: checkpoint " << path << " was written by a run on " << world
                                                       << (world == 1 ? " process" : " ranks") << ", this run has "
                                                       << now_world << (now_world == 1 ? " process" : " ranks")
                                                       << "; resume it with the same number of ranks (mpirun -np "
                                                       << world << ")");
  // A checkpoint inside the fine-tuning phase: unfreeze and build that phase's optimizer
  // and schedule first, so the state below loads into them.
  const int phase = s.contains("phase") ? static_cast<int>(s.at("phase").as_integer()) : 1;
  if (phase == 2) {
    GLIA_CHECK(options_.fine_tune.epochs > 0, "resume: checkpoint " << path << " is in its fine-tuning phase but this "
                                                                         "run has no fine-tuning phase (--fine-tune-epochs)");
    start_fine_tune();
    phase_start_ = static_cast<int>(s.at("phase_start_epoch").as_integer());
  }
  load_module_state(model_, as_map(ck.model_state), "checkpoint " + path);
  optimizer_->load_state(as_map(ck.optimizer_tensors), ck.optimizer_state);
  epoch_ = static_cast<int>(s.at("epoch").as_integer());
  optimizer_->set_lr(std::stod(s.at("lr").as_string()));
  try {
    if (s.contains("lr_schedule")) {
      schedule_->load_state(Json::parse(s.at("lr_schedule").as_string(), path + " lr schedule state"));
    } else {  // written before schedules had their own state: the Keras plateau's
      Json old = Json::object();
      old["family"] = Json("plateau");
      old["step"] = Json(0);
      old["current"] = Json(optimizer_->lr());
      old["plateau"] = Json::parse(s.at("plateau").as_string(), path + " plateau state");
      schedule_->load_state(old);
    }
  } catch (const Error& e) {
    GLIA_FAIL("resume: checkpoint " << path << ": " << e.what());
  }
  elapsed_ = s.contains("elapsed_seconds") ? s.at("elapsed_seconds").as_number() : 0;
  early_.load_state(Json::parse(s.at("early_stopping").as_string(), path + " early stopping state"));
  GeneratorState rng;
  rng.seed = std::stoull(s.at("rng_seed").as_string());
  rng.offset = std::stoull(s.at("rng_offset").as_string());
  default_generator().set_state(rng);
  history_.clear();
  const Json rows = Json::parse(s.at("history").as_string(), path + " history");
  for (const auto& item : rows.items()) {
    GLIA_CHECK(item.is_array() && item.size() >= 8 && item.size() <= 10,
               "resume: checkpoint " << path << " has a malformed history row");
    auto v = [&](size_t i) {
      return item[i].is_number() ? item[i].as_number() : std::numeric_limits<double>::quiet_NaN();
    };
    HistoryRow r;
    r.epoch = static_cast<int>(v(0));
    r.lr = v(1);
    r.loss = v(2);
    r.metric = v(3);
    r.val_loss = v(4);
    r.val_metric = v(5);
    r.seconds = v(6);
    r.images_per_second = v(7);
    r.phase = item.size() > 8 ? static_cast<int>(v(8)) : 1;
    r.skipped_steps = item.size() > 9 ? static_cast<int64_t>(v(9)) : 0;
    history_.push_back(r);
  }
  // The best weights so far are those of best.ckpt (written whenever the monitor improved).
  best_state_.clear();
  const std::string best_path = options_.checkpoint_dir + "/best.ckpt";
  if (options_.restore_best_weights && early_.best_epoch() >= 0 && std::filesystem::exists(best_path)) {
    const Checkpoint b = load_checkpoint(best_path);
    require_model(b, options_.model_name, best_path);
    const auto best = as_map(b.model_state);
    for (const auto& [name, t] : model_.state_dict()) {
      auto it = best.find(name);
      GLIA_CHECK(it != best.end() && it->second.sizes() == t.sizes(),
                 "resume: " << best_path << " lacks weight '" << name << "' of shape " << shape_str(t.sizes()));
      best_state_.emplace_back(name, it->second.to(t.device()).to(t.dtype()).contiguous());
    }
  }
  resumed_order_key_ = s.at("data_order").as_string();
  GLIA_CHECK(data_order_key.empty() || data_order_key == resumed_order_key_,
             "resume: checkpoint data order '" << resumed_order_key_ << "' differs from '" << data_order_key << "'");
  resumed_ = true;
}

}  // namespace glia
