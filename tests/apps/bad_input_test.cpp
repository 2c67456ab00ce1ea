// Bad input through the real binary, as a table: each case is a command line, the exit
// code and stderr substrings it must give, substrings stderr must not give (a flag the
// command does not have), the files or folders that must come out byte for byte as they
// went in, and paths that must not exist afterwards.
//
// All cases run in one test (one process) because they share a fixture that costs a few
// seconds to build: phantom datasets and a real run of each command. A failing case
// names itself (SCOPED_TRACE) and the others still run. To add a case, add a row to
// cases() in the section it belongs to; "{root}" stands for the fixture's folder, which
// holds:
//   cls/, seg/                      phantom datasets (classification, segmentation)
//   cls-run/, seg-run/              train-cls / train-seg runs (1 epoch, best.ckpt, last.ckpt)
//   eval-run/, pred-run/            eval-cls / predict runs of cls-run/best.ckpt
//   eval-with-ckpt/                 an eval-cls run holding a copy of best.ckpt as m.ckpt
//   parent/                         an eval-cls run holding sub/best.ckpt (a copy)
//   link-to-cls-run                 a symlink to cls-run
//   a-file                          a plain file
//   flipped.ckpt                    cls-run/best.ckpt with 16 bytes of tensor data flipped
//   nan.ckpt                        cls-run/best.ckpt with a NaN in one weight (checksums valid)
//   huge/huge.png                   a 74-byte PNG whose header claims 30000x30000 pixels
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "io/phantom.h"
#include "tensor/crc32.h"
#include "tests/apps/glia_process.h"
#include "train/checkpoint.h"
#include "tests/apps/cli_harness.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

struct BadInputCase {
  std::string name;
  std::vector<std::string> args;      // after "glia"
  int exit_code = 2;
  std::vector<std::string> message;   // substrings stderr must hold
  std::vector<std::string> not_in_message;
  std::vector<std::string> intact;    // files or folders (recursively) left byte for byte
  std::vector<std::string> absent;    // paths that must not exist; "x*": nothing in x's folder starting with x's name
  test::ChildOptions child;           // e.g. a file-size limit (a disk that fills up)
};

std::vector<std::string> cls_eval(const std::string& checkpoint, const std::string& out) {
  return {"eval-cls", "--checkpoint", checkpoint, "--data", "{root}/cls", "--out", out, "--threads", "2", "--quiet"};
}
std::vector<std::string> plus(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}
const std::vector<std::string> kTrainCls = {"train-cls", "--data", "{root}/cls", "--model", "b0", "--image-size", "32",
                                           "--epochs", "1", "--batch-size", "4", "--max-batches", "2", "--threads",
                                           "2", "--quiet"};
const std::vector<std::string> kTrainSeg = {"train-seg", "--data", "{root}/seg", "--width", "4", "--depth", "2",
                                           "--image-size", "32", "--epochs", "1", "--batch-size", "4",
                                           "--max-batches", "2", "--val-fraction", "0.25", "--test-fraction",
                                           "0.25", "--threads", "2", "--quiet"};

std::vector<BadInputCase> cases() {
  const std::string best = "{root}/cls-run/best.ckpt", seg_best = "{root}/seg-run/best.ckpt";
  const std::vector<std::string> overwrite = {"--overwrite"};
  std::vector<BadInputCase> t;

  // ---- run directories (issue 13, item 1): never delete what another command wrote or what
  // this command reads; suggest only flags the command has.
  t.push_back({"eval-cls --out its own checkpoint's training run, --overwrite", plus(cls_eval(best, "{root}/cls-run"), overwrite),
               2, {"--out {root}/cls-run", "--checkpoint", "with or without --overwrite"}, {"--resume"},
               {"{root}/cls-run"}, {}, {}});
  t.push_back({"eval-cls --out its own checkpoint's training run", cls_eval(best, "{root}/cls-run"), 2,
               {"--checkpoint"}, {"--resume", "pass --overwrite"}, {"{root}/cls-run"}, {}, {}});
  t.push_back({"eval-cls --out another command's run, --overwrite", plus(cls_eval(best, "{root}/seg-run"), overwrite),
               2, {"holds a train-seg run", "with or without --overwrite"}, {"--resume"}, {"{root}/seg-run"}, {}, {}});
  t.push_back({"eval-seg --out its own checkpoint's training run, --overwrite",
               {"eval-seg", "--checkpoint", seg_best, "--data", "{root}/seg", "--out", "{root}/seg-run", "--overwrite",
                "--val-fraction", "0.25", "--test-fraction", "0.25", "--quiet"},
               2, {"--checkpoint", "eval-seg will not delete"}, {"--resume"}, {"{root}/seg-run"}, {}, {}});
  t.push_back({"eval-seg --out a classifier training run, --overwrite",
               {"eval-seg", "--checkpoint", seg_best, "--data", "{root}/seg", "--out", "{root}/cls-run", "--overwrite",
                "--val-fraction", "0.25", "--test-fraction", "0.25", "--quiet"},
               2, {"holds a train-cls run"}, {"--resume"}, {"{root}/cls-run"}, {}, {}});
  t.push_back({"predict --out the run of its --classifier, --overwrite",
               {"predict", "{root}/cls/Testing/glioma", "--classifier", best, "--out", "{root}/cls-run", "--overwrite", "--quiet"},
               2, {"--classifier"}, {"--resume"}, {"{root}/cls-run"}, {}, {}});
  t.push_back({"predict --out the run of its --segmenter, --overwrite",
               {"predict", "{root}/cls/Testing/glioma", "--classifier", best, "--segmenter", seg_best, "--out",
                "{root}/seg-run", "--overwrite", "--quiet"},
               2, {"--segmenter"}, {"--resume"}, {"{root}/seg-run"}, {}, {}});
  t.push_back({"predict --out an eval-cls run, --overwrite",
               {"predict", "{root}/cls/Testing/glioma", "--classifier", best, "--out", "{root}/eval-run", "--overwrite", "--quiet"},
               2, {"holds an eval-cls run"}, {"--resume"}, {"{root}/eval-run"}, {}, {}});
  t.push_back({"eval-cls --out the eval run holding its checkpoint, --overwrite",
               plus(cls_eval("{root}/eval-with-ckpt/m.ckpt", "{root}/eval-with-ckpt"), overwrite), 2,
               {"--checkpoint {root}/eval-with-ckpt/m.ckpt"}, {}, {"{root}/eval-with-ckpt"}, {}, {}});
  t.push_back({"eval-cls --out a parent of its checkpoint, --overwrite",
               plus(cls_eval("{root}/parent/sub/best.ckpt", "{root}/parent"), overwrite), 2,
               {"--checkpoint {root}/parent/sub/best.ckpt"}, {}, {"{root}/parent"}, {}, {}});
  t.push_back({"eval-cls --out an eval run that holds checkpoints, --overwrite",
               plus(cls_eval(best, "{root}/parent"), overwrite), 2, {"holds checkpoints (sub/best.ckpt)"}, {"--resume"},
               {"{root}/parent"}, {}, {}});
  t.push_back({"eval-cls --out a symlink to its checkpoint's run, --overwrite",
               plus(cls_eval(best, "{root}/link-to-cls-run"), overwrite), 2, {"--checkpoint"}, {},
               {"{root}/cls-run"}, {}, {}});
  t.push_back({"eval-cls --out run/../run, --overwrite", plus(cls_eval(best, "{root}/cls-run/../cls-run"), overwrite),
               2, {"--checkpoint"}, {}, {"{root}/cls-run"}, {}, {}});
  t.push_back({"eval-cls --out its --data folder, --overwrite", plus(cls_eval(best, "{root}/cls"), overwrite), 2,
               {"--data"}, {}, {"{root}/cls"}, {}, {}});
  t.push_back({"train-cls --out a train-seg run, --overwrite", plus(kTrainCls, {"--out", "{root}/seg-run", "--overwrite"}),
               2, {"holds a train-seg run", "with or without --overwrite"}, {}, {"{root}/seg-run"}, {}, {}});
  t.push_back({"train-cls --out an existing train-cls run", plus(kTrainCls, {"--out", "{root}/cls-run"}), 2,
               {"already holds a train-cls run", "--resume", "--overwrite"}, {}, {"{root}/cls-run"}, {}, {}});
  t.push_back({"eval-cls --out an existing eval-cls run", cls_eval(best, "{root}/eval-run"), 2,
               {"already holds an eval-cls run", "--overwrite"}, {"--resume"}, {"{root}/eval-run"}, {}, {}});
  t.push_back({"train-seg --resume a train-cls run", plus(kTrainSeg, {"--out", "{root}/cls-run", "--resume"}), 2,
               {"holds a train-cls run, not a train-seg run"}, {}, {"{root}/cls-run"}, {}, {}});
  t.push_back({"train-cls --overwrite the run of its --pretrained",
               plus(kTrainCls, {"--out", "{root}/cls-run", "--overwrite", "--pretrained", best}), 2,
               {"--pretrained"}, {}, {"{root}/cls-run"}, {}, {}});

  // ---- output that cannot be written (item 7): name --out or the file, and why; leave no
  // empty or partial file behind.
  t.push_back({"--out under /proc", plus(kTrainCls, {"--out", "/proc/glia-bad-input-test"}), 2,
               {"--out /proc/glia-bad-input-test", "cannot create the directory"}, {}, {}, {"/proc/glia-bad-input-test"}, {}});
  t.push_back({"--out below a plain file", cls_eval(best, "{root}/a-file/out"), 2,
               {"--out {root}/a-file/out", "Not a directory"}, {}, {"{root}/a-file"}, {}, {}});
  t.push_back({"a disk that fills up while writing run.json", cls_eval(best, "{root}/full"), 1,
               {"cannot write {root}/full/run.json", "File too large"}, {}, {"{root}/cls-run"},
               {"{root}/full/run.json*"}, {64}});

  // ---- files that are wrong inside (items 2 and 7): a checksum, a non-finite weight, a
  // header that claims more pixels than the budget. Nothing is written.
  t.push_back({"eval-cls of a checkpoint with flipped bytes", cls_eval("{root}/flipped.ckpt", "{root}/flipped-eval"), 1,
               {"{root}/flipped.ckpt", "is corrupt: its"}, {}, {"{root}/flipped.ckpt"}, {"{root}/flipped-eval"}, {}});
  t.push_back({"eval-cls of a checkpoint with a NaN weight", cls_eval("{root}/nan.ckpt", "{root}/nan-eval"), 1,
               {"{root}/nan.ckpt", "non-finite value"}, {}, {"{root}/nan.ckpt"}, {"{root}/nan-eval"}, {}});
  t.push_back({"train-cls --resume from a checkpoint with flipped bytes",
               plus(kTrainCls, {"--out", "{root}/flipped-run", "--resume"}), 1,
               {"last.ckpt", "is corrupt: its"}, {}, {"{root}/flipped-run"}, {}, {}});
  t.push_back({"predict on a PNG whose header claims 30000x30000",
               {"predict", "{root}/huge", "--classifier", best, "--out", "{root}/huge-pred", "--quiet"}, 1,
               {"huge.png", "header claims 30000x30000"}, {}, {"{root}/huge"}, {"{root}/huge-pred"}, {}});

  // ---- flags (item 7).
  t.push_back({"a flag given twice", plus(kTrainCls, {"--out", "{root}/twice", "--epochs", "4"}), 2,
               {"--epochs given 2 times (1, 4)"}, {"At Most"}, {}, {"{root}/twice"}, {}});
  return t;
}

std::string fill(std::string s, const std::string& root) {
  for (size_t at; (at = s.find("{root}")) != std::string::npos;) s.replace(at, 6, root);
  return s;
}

std::string read(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(fs::file_size(path)), '\0');
  f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// Every file under `path` (or the file itself) with a hash of its bytes, and every folder.
std::map<std::string, size_t> snapshot(const std::string& path) {
  std::map<std::string, size_t> files;
  if (!fs::exists(path)) return files;
  if (!fs::is_directory(path)) {
    files[path] = std::hash<std::string>{}(read(path));
    return files;
  }
  for (const auto& e : fs::recursive_directory_iterator(path)) {
    if (e.is_directory()) files[e.path().string() + "/"] = 0;
    else files[e.path().string()] = std::hash<std::string>{}(read(e.path()));
  }
  return files;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_bad_input");
    io::write_classification_phantoms(root_ + "/cls", 5, 2, 40, 3);
    io::write_segmentation_phantoms(root_ + "/seg", 4, 4, 32, 3);
    const std::string best = root_ + "/cls-run/best.ckpt";
    for (const auto& args : std::vector<std::vector<std::string>>{
             plus(kTrainCls, {"--out", "{root}/cls-run"}),
             plus(kTrainSeg, {"--out", "{root}/seg-run"}),
             cls_eval(best, "{root}/eval-run"),
             cls_eval(best, "{root}/eval-with-ckpt"),
             cls_eval(best, "{root}/parent"),
             {"predict", "{root}/cls/Testing/glioma", "--classifier", best, "--out", "{root}/pred-run", "--quiet"}}) {
      const test::ChildResult r = test::run_glia(filled(args));
      ASSERT_EQ(r.exit_code, 0) << "fixture: " << args[0] << " failed: " << r.err;
    }
    fs::copy_file(best, root_ + "/eval-with-ckpt/m.ckpt");
    fs::create_directories(root_ + "/parent/sub");
    fs::copy_file(best, root_ + "/parent/sub/best.ckpt");
    fs::create_directory_symlink(root_ + "/cls-run", root_ + "/link-to-cls-run");
    std::ofstream(root_ + "/a-file") << "a plain file";
    write_flipped_checkpoint(best, root_ + "/flipped.ckpt");
    fs::copy(root_ + "/cls-run", root_ + "/flipped-run");
    write_flipped_checkpoint(best, root_ + "/flipped-run/last.ckpt");
    Checkpoint nan = load_checkpoint(best);
    nan.model_state.front().second.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
    save_checkpoint(root_ + "/nan.ckpt", nan);  // checksums of the NaN: only the value is wrong
    fs::create_directories(root_ + "/huge");
    write_png_header_only(root_ + "/huge/huge.png", 30000, 30000);
  }
  static void write_flipped_checkpoint(const std::string& from, const std::string& to) {
    std::string bytes = read(from);
    for (size_t i = bytes.size() - 64; i < bytes.size() - 48; ++i) bytes[i] = static_cast<char>(~bytes[i]);
    std::ofstream(to, std::ios::binary | std::ios::trunc) << bytes;
  }
  // PNG signature, an IHDR chunk (8-bit RGB, width x height) and IEND: 45 bytes that a
  // decoder would have to allocate width x height x 3 for.
  static void write_png_header_only(const std::string& path, uint32_t width, uint32_t height) {
    std::string png = "\x89PNG\r\n\x1a\n";
    auto be32 = [](uint32_t v) {
      return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
    };
    auto chunk = [&](const std::string& type, const std::string& data) {
      const std::string body = type + data;
      png += be32(static_cast<uint32_t>(data.size())) + body + be32(crc32(body.data(), body.size()));
    };
    chunk("IHDR", be32(width) + be32(height) + std::string{8, 2, 0, 0, 0});
    chunk("IEND", "");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << png;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> filled(std::vector<std::string> args) const {
    for (auto& a : args) a = fill(a, root_);
    return args;
  }

  std::string root_;
};

TEST_F(BadInput, EveryCaseOfTheTable) {
  for (const BadInputCase& c : cases()) {
    SCOPED_TRACE("case '" + c.name + "'");
    std::map<std::string, std::map<std::string, size_t>> before;
    for (const auto& p : c.intact) before[fill(p, root_)] = snapshot(fill(p, root_));
    const test::ChildResult r = test::run_glia(filled(c.args), c.child);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
    for (const auto& m : c.message) EXPECT_NE(r.err.find(fill(m, root_)), std::string::npos) << "no '" << fill(m, root_) << "' in: " << r.err;
    for (const auto& m : c.not_in_message) EXPECT_EQ(r.err.find(m), std::string::npos) << "'" << m << "' in: " << r.err;
    for (const auto& [path, files] : before) {
      EXPECT_FALSE(files.empty()) << path << " was empty before the case: the check would be void";
      EXPECT_EQ(snapshot(path), files) << path << " changed";
    }
    for (const auto& a : c.absent) {
      const std::string p = fill(a, root_);
      if (p.back() != '*') {
        EXPECT_FALSE(fs::exists(p)) << p;
        continue;
      }
      const fs::path prefix(p.substr(0, p.size() - 1));
      if (!fs::is_directory(prefix.parent_path())) continue;
      for (const auto& e : fs::directory_iterator(prefix.parent_path()))
        EXPECT_NE(e.path().filename().string().rfind(prefix.filename().string(), 0), 0u) << e.path() << " was left";
    }
  }
}

}  // namespace
}  // namespace glia
