// Run directories: what a command may delete, overwrite or reuse, and how its small text
// files reach the disk. The rules (apps/app.h, prepare_run_dir):
//   - a command never deletes a directory that holds a file it reads (its --checkpoint,
//     --classifier, --segmenter, --data, --pretrained): paths are compared canonically,
//     so a symlink or "run/../run" does not get around it;
//   - --overwrite replaces only a run of the same command. The run of another command
//     (an eval-cls --out pointing at a training run) is refused with or without it, and
//     so is any directory holding checkpoints when the command writes none;
//   - refusals suggest only flags the command has (eval and predict have no --resume);
//   - --resume removes the temporary files that killed runs left beside their
//     checkpoints (write_file_atomically's "<name>.tmp.<pid>", for a pid that is gone).
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/app.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace glia::app {
namespace fs = std::filesystem;
namespace {

bool writes_checkpoints(const std::string& command) {
  return command == "train-cls" || command == "train-seg" || command == "demo";
}
bool has_resume(const std::string& command) { return command == "train-cls" || command == "train-seg"; }

// "a train-cls run" / "an eval-cls run".
std::string a_run_of(const std::string& command) {
  const bool vowel = !command.empty() && std::strchr("aeiou", command[0]) != nullptr;
  return std::string(vowel ? "an " : "a ") + command + " run";
}

fs::path canonical_or_absolute(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(path, ec);
  if (ec) p = fs::absolute(path, ec).lexically_normal();
  return p;
}

// True when `inner` is `outer` or lies below it.
bool is_within(const fs::path& inner, const fs::path& outer) {
  for (fs::path p = inner;; p = p.parent_path()) {
    if (p == outer) return true;
    if (p == p.parent_path()) return false;
  }
}

// The "command" of <dir>/run.json; empty when there is none or it cannot be read.
std::string run_command(const fs::path& dir) {
  const fs::path file = dir / "run.json";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return "";
  try {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const Json run = Json::parse(text.str(), file.string());
    if (run.is_object() && run.contains("command") && run.at("command").is_string()) return run.at("command").as_string();
  } catch (const std::exception&) {
  }
  return "";
}

// Up to three checkpoint files under `dir` (relative paths), for the refusal message.
std::vector<std::string> checkpoints_in(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end && found.size() < 3; it.increment(ec)) {
    if (it->path().extension() == ".ckpt" && it->is_regular_file(ec)) found.push_back(fs::relative(it->path(), dir, ec).string());
  }
  return found;
}

std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

// Refuses (UsageError) every way of deleting the existing, non-empty `dir` that the
// rules above forbid; returns normally when --overwrite may replace it.
void check_replaceable(const std::string& dir, bool overwrite, const std::string& command, const InputPaths& inputs) {
  const fs::path out = canonical_or_absolute(dir);
  for (const auto& [flag, path] : inputs) {
    if (path.empty()) continue;
    GLIA_USAGE_CHECK(!is_within(canonical_or_absolute(path), out),
                     "--out " << dir << " holds " << flag << " " << path << ", which this command reads; "
                              << command << " will not delete or overwrite it, with or without --overwrite: "
                              << "choose another --out");
  }
  const std::string previous = run_command(out);
  GLIA_USAGE_CHECK(!previous.empty(), "--out " << dir << " already exists, is not empty and is not a glia run "
                                                  "directory (no run.json); refusing to touch it: choose another --out");
  GLIA_USAGE_CHECK(previous == command,  // the message (and its directory walk) only on failure
                   "--out " << dir << " holds " << a_run_of(previous)
                            << (checkpoints_in(out).empty() ? "" : " (with " + joined(checkpoints_in(out)) + ")")
                            << "; " << command << " never replaces the run of another command, with or without "
                            << "--overwrite: choose another --out");
  if (!writes_checkpoints(command)) {
    const auto ckpts = checkpoints_in(out);
    GLIA_USAGE_CHECK(ckpts.empty(), "--out " << dir << " holds checkpoints (" << joined(ckpts) << ") that " << command
                                             << " does not write; refusing to delete them, with or without "
                                                "--overwrite: choose another --out");
  }
  GLIA_USAGE_CHECK(overwrite, "--out " << dir << " already holds " << a_run_of(command) << "; choose another --out"
                                       << (has_resume(command) ? ", pass --resume to continue it," : ",")
                                       << " or pass --overwrite to replace it");
}

bool process_alive(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

// The pid of write_file_atomically's temporary name "<name>.tmp.<pid>" (tensor/
// safetensors.cpp); -1 for any other name.
long temp_file_pid(const std::string& name) {
  const std::string mark = ".tmp.";
  const size_t at = name.rfind(mark);
  if (at == std::string::npos || at == 0) return -1;
  const std::string digits = name.substr(at + mark.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

}  // namespace

size_t remove_stale_temp_files(const std::string& dir) {
  std::error_code ec;
  size_t removed = 0;
  uintmax_t bytes = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const long pid = temp_file_pid(it->path().filename().string());
    std::error_code fec;
    if (pid < 0 || !it->is_regular_file(fec) || it->is_symlink(fec)) continue;
    if (process_alive(pid)) continue;  // a run that is still writing
    const uintmax_t size = it->file_size(fec);
    if (fs::remove(it->path(), fec)) {
      ++removed;
      bytes += fec ? 0 : size;
    }
  }
  if (removed > 0)
    std::cerr << "glia: removed " << removed << " temporary file" << (removed == 1 ? "" : "s") << " ("
              << (bytes >= 1024 * 1024 ? std::to_string((bytes + 512 * 1024) / (1024 * 1024)) + " MB"
                                       : std::to_string((bytes + 512) / 1024) + " KB")
              << ") left in " << dir << " by an interrupted run" << std::endl;
  return removed;
}

void check_run_dir(const std::string& dir, bool overwrite, bool resume, const std::string& command,
                   const InputPaths& inputs) {
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  GLIA_USAGE_CHECK(!exists || fs::is_directory(dir, ec), "--out " << dir << " exists and is not a directory");
  if (resume) {
    GLIA_USAGE_CHECK(fs::exists(fs::path(dir) / "last.ckpt", ec),
                     "--resume: " << dir << "/last.ckpt does not exist (nothing to resume)");
    const std::string previous = run_command(dir);
    GLIA_USAGE_CHECK(previous.empty() || previous == command,
                     "--resume: " << dir << " holds " << a_run_of(previous) << ", not " << a_run_of(command));
  } else if (exists && !fs::is_empty(dir, ec)) {
    check_replaceable(dir, overwrite, command, inputs);
  }
}

void prepare_run_dir(const std::string& dir, bool overwrite, bool resume, const std::string& command,
                     const std::string& config_json, const InputPaths& inputs) {
  check_run_dir(dir, overwrite, resume, command, inputs);
  std::error_code ec;
  if (resume) {
    remove_stale_temp_files(dir);
    return;  // run.json keeps the configuration the run started with
  }
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    fs::remove_all(dir, ec);
    GLIA_CHECK(!ec, "--overwrite: could not delete " << dir << ": " << ec.message());
  }
  fs::create_directories(dir, ec);
  GLIA_USAGE_CHECK(!ec && fs::is_directory(dir, ec), "--out " << dir << ": cannot create the directory: "
                                                          << (ec ? ec.message() : "not a directory"));
  Json run = Json::object();
  run["command"] = Json(command);
  run["config"] = Json::parse(config_json, "run config");
  write_text_file((fs::path(dir) / "run.json").string(), run.dump(2) + "\n");
}

void write_text_file(const std::string& path, const std::string& text) {
  // Temporary file, fsync, rename: a full disk or a kill leaves the previous file (or
  // none), never a truncated one.
  try {
    write_file_atomically(path, text);
  } catch (const Error& e) {
    throw Error("cannot write " + path + ": " + e.what());
  }
}

}  // namespace glia::app
