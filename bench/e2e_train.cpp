// End-to-end classifier training speed, loader included: read, decode, resize (or the
// decoded-image cache), augment, forward, backward and Adam step, as `glia train-cls`
// runs them (the same pipeline, loader, model, optimizer and Trainer; no validation,
// no checkpoints). Epoch 1 starts with a cold cache; later epochs show what caching
// buys. Writes Google Benchmark-style JSON rows that tools/bench_torch_e2e.py mirrors
// under the same names, so tools/bench_table.py can pair them:
//   e2e/b1_train/size:<S>/batch:<B>/epoch:1     the first epoch
//   e2e/b1_train/size:<S>/batch:<B>/epoch:2+    every later epoch together
// real_time is the wall time per training step (ms), images/s the training rate,
// loader_wait_s the time the steps waited for the loader, cache_MiB the cache's size.
//
//   bench_e2e_train --list FILE | --data ROOT | --phantoms N  [--images N] [--sizes 160,240]
//                   [--batch 32] [--epochs 2] [--threads T] [--workers W] [--cache ram|auto|off]
//                   [--model b1] [--max-batches N] [--out FILE]
// --list: lines "<label> <path>" (label 0..3 in tumour_class_names() order), the exact
// images of both sides (scripts/bench-e2e.sh writes it); --data: a brain-tumor-mri
// root, evenly thinned to --images; --phantoms: N synthetic images per class in a
// temporary folder (the ctest smoke run).
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <omp.h>

#include "apps/train_common.h"
#include "io/classification_dataset.h"
#include "io/phantom.h"
#include "tensor/json.h"
#include "train/classification_trainer.h"

namespace {

namespace fs = std::filesystem;
using namespace glia;

struct Args {
  std::string list, data, out, model = "b1", cache = "ram";
  int phantoms = 0;
  size_t images = 0, max_batches = 0;
  std::vector<int> sizes{160, 240};
  int batch = 32, epochs = 2, threads = 0, workers = 2;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "bench_e2e_train: " << why << "\n(see the comment at the top of bench/e2e_train.cpp)" << std::endl;
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(flag + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> long {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0) usage(flag + " '" + v + "': expected a whole number >= 0");
      return n;
    };
    if (flag == "--list") a.list = value();
    else if (flag == "--data") a.data = value();
    else if (flag == "--phantoms") a.phantoms = static_cast<int>(number());
    else if (flag == "--images") a.images = static_cast<size_t>(number());
    else if (flag == "--batch") a.batch = static_cast<int>(number());
    else if (flag == "--epochs") a.epochs = static_cast<int>(number());
    else if (flag == "--threads") a.threads = static_cast<int>(number());
    else if (flag == "--workers") a.workers = static_cast<int>(number());
    else if (flag == "--max-batches") a.max_batches = static_cast<size_t>(number());
    else if (flag == "--cache") a.cache = value();
    else if (flag == "--model") a.model = value();
    else if (flag == "--out") a.out = value();
    else if (flag == "--sizes") {
      a.sizes.clear();
      std::stringstream s(value());
      for (std::string item; std::getline(s, item, ',');) a.sizes.push_back(std::atoi(item.c_str()));
      for (int size : a.sizes)
        if (size < 32) usage("--sizes: each size must be 32 or more");
    } else {
      usage("unknown flag '" + flag + "'");
    }
  }
  if ((!a.list.empty()) + (!a.data.empty()) + (a.phantoms > 0) != 1) usage("give one of --list, --data, --phantoms");
  if (a.batch < 2 || a.epochs < 1) usage("--batch must be >= 2 and --epochs >= 1");
  return a;
}

std::vector<io::ClassificationSample> read_list(const std::string& path) {
  std::ifstream f(path);
  if (!f) usage("--list " + path + ": cannot read");
  std::vector<io::ClassificationSample> samples;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos) usage("--list " + path + ": line '" + line + "' is not '<label> <path>'");
    io::ClassificationSample s;
    s.label = std::atoi(line.substr(0, space).c_str());
    s.path = line.substr(space + 1);
    if (s.label < 0 || s.label >= static_cast<int64_t>(io::kNumTumourClasses))
      usage("--list " + path + ": label out of range in '" + line + "'");
    samples.push_back(s);
  }
  return samples;
}

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "?";
}

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

struct EpochCost {
  double seconds = 0, cpu = 0, wait = 0;
  size_t images = 0, steps = 0;
};

Json row(const std::string& name, const EpochCost& c, size_t cache_bytes) {
  Json r = Json::object();
  r["name"] = Json(name);
  r["run_name"] = Json(name);
  r["run_type"] = Json("iteration");
  r["repetitions"] = Json(1);
  r["repetition_index"] = Json(0);
  r["threads"] = Json(1);
  r["iterations"] = Json(static_cast<int64_t>(c.steps));
  r["real_time"] = Json(1e3 * c.seconds / static_cast<double>(c.steps));
  r["cpu_time"] = Json(1e3 * c.cpu / static_cast<double>(c.steps));
  r["time_unit"] = Json("ms");
  r["images/s"] = Json(static_cast<double>(c.images) / c.seconds);
  r["images"] = Json(static_cast<int64_t>(c.images));
  r["seconds"] = Json(c.seconds);
  r["loader_wait_s"] = Json(c.wait);
  r["cache_MiB"] = Json(static_cast<double>(cache_bytes) / (1 << 20));
  return r;
}

// Trains one fresh model for args.epochs epochs at `size`; one row per epoch kind.
void run_size(const Args& args, const std::vector<io::ClassificationSample>& samples, int size, Json& rows) {
  app::ModelSpec spec;
  spec.kind = "classifier";
  spec.variant = args.model;
  spec.image_size = size;
  auto model = app::build_model(spec, 0);
  auto optimizer = app::make_adam(*model, 1e-3, 1e-4, false);
  const io::ImagePipeline p = app::pipeline(size, true);
  const io::CacheMode mode = io::parse_cache_mode(args.cache);
  io::CachePlan plan = io::plan_cache(mode, io::estimated_cache_bytes(samples.size(), p, false),
                                      mode == io::CacheMode::automatic ? io::cache_budget() : io::CacheBudget{});
  std::cerr << "bench_e2e_train: size " << size << ", " << samples.size() << " images; " << plan.message << std::endl;
  auto source = std::make_shared<io::ClassificationSource>(samples, p, plan.cache);
  auto loader = app::make_loader(source, args.batch, true, args.workers, 0, false);
  ClassificationTask task(io::kNumTumourClasses);
  TrainerOptions to;
  to.epochs = args.epochs;
  to.max_batches = args.max_batches;
  Trainer trainer(*model, *optimizer, task, to);
  std::vector<EpochCost> costs;
  double cpu_start = 0;
  size_t steps = 0;
  trainer.on_progress([&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::epoch_begin) {
      cpu_start = process_cpu_seconds();
      steps = 0;
    } else if (e.kind == ProgressEvent::Kind::batch_end) {
      ++steps;
    } else if (e.kind == ProgressEvent::Kind::epoch_end) {
      const io::LoaderStats ls = loader->loader().stats();
      EpochCost c;
      c.cpu = process_cpu_seconds() - cpu_start;
      c.images = ls.images;
      c.seconds = e.row->seconds;  // training only: there is no validation
      c.wait = ls.wait_seconds;
      c.steps = steps;
      costs.push_back(c);
      std::cerr << "  epoch " << e.epoch << ": " << c.images << " images in " << c.seconds << " s, "
                << c.images / c.seconds << " img/s, waited " << c.wait << " s for the loader" << std::endl;
    }
  });
  trainer.fit(*loader, nullptr);
  const size_t cache_bytes = plan.cache ? plan.cache->stats().bytes : 0;
  const std::string stem = "e2e/" + args.model + "_train/size:" + std::to_string(size) +
                           "/batch:" + std::to_string(args.batch) + "/epoch:";
  rows.push_back(row(stem + "1", costs.at(0), cache_bytes));
  if (costs.size() > 1) {
    EpochCost later;
    for (size_t i = 1; i < costs.size(); ++i) {
      later.seconds += costs[i].seconds;
      later.cpu += costs[i].cpu;
      later.wait += costs[i].wait;
      later.images += costs[i].images;
      later.steps += costs[i].steps;
    }
    rows.push_back(row(stem + "2+", later, cache_bytes));
  }
}

}  // namespace

int main(int argc, char** argv) {
  // As apps/main.cpp does for glia: passive OpenMP waiting unless the environment says
  // otherwise (libgomp reads it at load time, hence the re-execution).
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
  }
  const Args args = parse(argc, argv);
  if (args.threads > 0) omp_set_num_threads(args.threads);
  try {
    std::vector<io::ClassificationSample> samples;
    fs::path phantom_dir;
    if (!args.list.empty()) {
      samples = read_list(args.list);
    } else {
      std::string root = args.data;
      if (args.phantoms > 0) {
        phantom_dir = fs::temp_directory_path() / ("glia_e2e_" + std::to_string(::getpid()));
        io::write_classification_phantoms(phantom_dir.string(), args.phantoms, 0, 96, 1);
        root = phantom_dir.string();
      }
      samples = io::open_classification_dataset(root).training.samples;
    }
    samples = app::thin(samples, args.images);
    if (samples.size() < static_cast<size_t>(args.batch)) usage("fewer images than one batch");
    Json rows = Json::array();
    for (int size : args.sizes) run_size(args, samples, size, rows);
    if (!phantom_dir.empty()) fs::remove_all(phantom_dir);

    Json context = Json::object();
    char date[64];
    const std::time_t t = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&t));
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    context["date"] = Json(date);
    context["host_name"] = Json(host);
    context["executable"] = Json(argv[0]);
    context["num_cpus"] = Json(static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN)));
    context["cpu_model"] = Json(cpu_model());
    context["library"] = Json("glia");
    context["cpu_threads"] = Json(omp_get_max_threads());
    context["workers"] = Json(args.workers);
    context["cache"] = Json(args.cache);
    context["images"] = Json(static_cast<int64_t>(samples.size()));
    context["epochs"] = Json(args.epochs);
    context["loadavg"] = Json(first_line("/proc/loadavg"));
    if (const char* w = std::getenv("OMP_WAIT_POLICY")) context["omp_wait_policy"] = Json(w);
    Json doc = Json::object();
    doc["context"] = context;
    doc["benchmarks"] = rows;
    const std::string text = doc.dump(2) + "\n";
    if (args.out.empty()) {
      std::cout << text;
    } else {
      std::ofstream f(args.out);
      f << text;
      if (!f) throw std::runtime_error("cannot write " + args.out);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_e2e_train: error: " << e.what() << std::endl;
    return 1;
  }
}
