#include "apps/interrupt.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

namespace glia::app {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler may only touch lock-free atomics");

void say(const char* text) {  // async-signal-safe
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

extern "C" void on_signal(int signal) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, signal)) {
    say("\nglia: stopping at the next batch boundary (send the signal again to quit at once)\n");
    return;
  }
  say("\nglia: second signal: quitting now; the checkpoints on disk are complete (each is replaced by a rename)\n");
  ::_exit(128 + signal);
}

// The value of `--flag X` or `--flag=X` in args; empty when absent.
std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(flag + "=", 0) == 0) return args[i].substr(flag.size() + 1);
  }
  return "";
}
bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 1; i < args.size(); ++i)
    if (args[i] == flag || args[i].rfind(flag + "=", 0) == 0) return true;
  return false;
}
std::vector<std::string> without(std::vector<std::string> args, const std::string& flag) {
  for (size_t i = 1; i < args.size();)
    if (args[i] == flag) args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    else ++i;
  return args;
}

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace

const std::atomic<int>& interrupt_flag() { return g_signal; }

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and writes in progress carry on
  sigaction(SIGINT, &action, &previous_int_);
  sigaction(SIGTERM, &action, &previous_term_);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_int_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
  g_signal = 0;
}

std::string shell_command(const std::vector<std::string>& args) {
  std::string line;
  for (const auto& a : args) {
    const bool plain = !a.empty() && a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                         "0123456789_-+=.,:/@%") == std::string::npos;
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += (line.empty() ? "" : " ") + (plain ? a : quoted + "'");
  }
  return line;
}

int report_interruption(const TrainingInterrupted& e, const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  const std::string& dir = e.checkpoint_dir;
  const bool demo = args.size() > 1 && args[1] == "demo";
  const bool segmenter = args.size() > 1 && args[1] == "train-seg";
  std::ostringstream m;
  m << "glia: interrupted (" << signal_name(e.signal) << ") ";
  if (e.phase == "evaluation") {
    m << "while evaluating the trained model. Training itself is complete: " << dir
      << " holds its checkpoints and history.csv (" << e.epochs_done << " epochs); metrics.json was not written.\n";
    if (demo) {
      m << "glia: the demo cannot be resumed; start it again (with --overwrite).\n";
    } else {
      const std::string best = dir + (fs::exists(dir + "/best.ckpt") ? "/best.ckpt" : "/last.ckpt");
      std::vector<std::string> eval = {args[0], segmenter ? "eval-seg" : "eval-cls", "--checkpoint", best, "--data",
                                       flag_value(args, "--data")};
      for (const char* f : {"--seed", "--val-fraction", "--test-fraction", "--device", "--threads"})
        if (has_flag(args, f)) eval.insert(eval.end(), {f, flag_value(args, f)});
      m << "glia: evaluate it with:\n  " << shell_command(eval) << "\n";
    }
  } else {
    if (e.phase == "training" && e.batch == 0) {
      m << "before epoch " << e.epochs_done + 1 << "/" << e.epochs << " began.\n";
    } else {
      m << "during " << (e.phase == "validation" ? "the validation of " : "") << "epoch " << e.epochs_done + 1 << "/"
        << e.epochs;
      if (e.phase == "training") m << ", after " << e.batch << " of " << e.batches << " batches";
      m << ". That epoch is abandoned: its updates are in no checkpoint, and --resume repeats it from its start, "
           "so the resumed run is bit for bit the uninterrupted one.\n";
    }
    std::vector<std::string> again = without(without(args, "--resume"), "--overwrite");
    if (!demo && !has_flag(again, "--out")) again.insert(again.end(), {"--out", dir});
    if (e.epochs_done == 0) {
      again.push_back("--overwrite");
      m << "glia: no epoch finished, so there is nothing to resume; start again with:\n  " << shell_command(again)
        << "\n";
    } else {
      m << "glia: the run is at epoch " << e.epochs_done << "/" << e.epochs << ": " << dir << "/last.ckpt and "
        << dir << "/history.csv hold "
        << (e.epochs_done == 1 ? std::string("epoch 1") : "epochs 1-" + std::to_string(e.epochs_done)) << ".\n";
      if (demo) {
        again.push_back("--overwrite");
        m << "glia: the demo cannot be resumed; start it again with:\n  " << shell_command(again) << "\n";
      } else {
        again.push_back("--resume");
        m << "glia: continue it with:\n  " << shell_command(again) << "\n";
      }
    }
  }
  std::cerr << m.str() << std::flush;
  return 128 + e.signal;
}

}  // namespace glia::app
