// hpsim run --checkpoint-every / --resume through the binary under mpirun: a resumed run (after a clean stop, a
// rank killed mid-step, a torn or corrupted checkpoint) ends with the losses and weights of the run that was not
// interrupted, bit for bit; checkpoints of another run are refused; the step watchdog names the late rank.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using hpsim_run_test::hpsim;
using hpsim_run_test::temp_dir;

const std::string kPlan = std::string(HPSIM_SOURCE_DIR) + "/tests/run/tiny_ckpt.yaml";

/// One run's per-step losses (warm-up first), its first step and its weights digest.
struct Trained {
  std::vector<double> loss;
  std::int64_t first_step = 0;
  std::string digest;
};

Trained run(int ranks, const std::string& layout, const std::string& more, const std::string& env = "") {
  const auto r = hpsim("HPSIM_TEST=1 " + env, ranks, "run --plan " + kPlan + " " + layout + " --format json " + more);
  INFO(layout << " " << more << ": " << r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  Trained t;
  t.loss = j["warmup_loss"].get<std::vector<double>>();
  for (const double l : j["loss"]) t.loss.push_back(l);
  t.first_step = j["first_step"].get<std::int64_t>();
  t.digest = j["weights_digest"].get<std::string>();
  return t;
}

/// The resumed run's losses are the uninterrupted run's from its first step on, exactly; so are the weights.
void check_same_as(const Trained& resumed, const Trained& whole) {
  REQUIRE(resumed.first_step > 1);
  REQUIRE(whole.loss.size() > static_cast<std::size_t>(resumed.first_step - 1));
  const std::vector<double> tail(whole.loss.begin() + resumed.first_step - 1, whole.loss.end());
  CHECK(resumed.loss == tail);  // bit for bit: doubles compared with ==
  CHECK(resumed.digest == whole.digest);
}

void flip_byte(const fs::path& file, std::streamoff at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(static_cast<char>(c ^ 0x40));
}

}  // namespace

// The matrix: each layout runs 6 steps writing checkpoints at steps 3 and 6; step 6 is then torn in a different way
// per layout and the resume must skip it, load step 3 and finish as the uninterrupted run did.
TEST_CASE("run_checkpoint_matrix: resuming from a checkpoint reproduces the uninterrupted run bit for bit") {
  struct Case {
    int ranks;
    const char* layout;
    const char* tear;  ///< how step 6 is made torn
  };
  for (const Case c : {Case{2, "--tp 2", "no manifest"}, Case{2, "--pp 2", "checksum"},
                       Case{2, "--dp 2 --zero 1", "size"}, Case{8, "--tp 2 --pp 2 --dp 2 --zero 1", "missing shard"}}) {
    CAPTURE(c.layout);
    const std::string dir = temp_dir("ckpt_matrix");
    const Trained whole = run(c.ranks, c.layout, "--warmup 0 --steps 6 --checkpoint-every 3 --checkpoint-dir " + dir);
    REQUIRE(whole.loss.size() == 6);
    const fs::path step6 = fs::path(dir) / "step-00000006";
    REQUIRE(fs::exists(step6 / "manifest.json"));
    REQUIRE(fs::exists(fs::path(dir) / "step-00000003" / "manifest.json"));
    const std::string tear = c.tear;
    std::string why;
    if (tear == "no manifest") {
      fs::remove(step6 / "manifest.json");
      why = "no manifest.json";
    } else if (tear == "checksum") {
      flip_byte(step6 / "rank-1.bin", 200);
      why = "rank-1.bin: checksum mismatch";
    } else if (tear == "size") {
      fs::resize_file(step6 / "rank-0.bin", fs::file_size(step6 / "rank-0.bin") - 4);
      why = "rank-0.bin has ";
    } else {
      fs::remove(step6 / "rank-5.bin");
      why = "rank-5.bin is missing";
    }
    const auto r = hpsim("HPSIM_TEST=1", c.ranks,
                         "run --plan " + kPlan + " " + c.layout + " --format json --warmup 0 --steps 6 --resume " + dir);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find("skipped torn checkpoint step-00000006: " + why) != std::string::npos);
    CHECK(r.err.find("resuming from " + dir + "/step-00000003 (step 3)") != std::string::npos);
    const auto j = nlohmann::json::parse(r.out);
    Trained resumed{j["loss"].get<std::vector<double>>(), j["first_step"].get<std::int64_t>(),
                    j["weights_digest"].get<std::string>()};
    CHECK(resumed.first_step == 4);
    CHECK(j["resumed_from"] == dir + "/step-00000003");
    check_same_as(resumed, whole);
  }
}

TEST_CASE("run_checkpoint_kill: a rank killed mid-step or mid-checkpoint; the restart resumes without loss") {
  const std::string layout = "--dp 2 --zero 1";
  const std::string steps = "--warmup 1 --steps 5";  // the run's steps 1..6, step 1 the warm-up
  const Trained whole = run(2, layout, steps);
  REQUIRE(whole.loss.size() == 6);

  // Rank 1 dies in step 5: steps 2 and 4 are complete; the restart runs 5 and 6.
  const std::string dir = temp_dir("ckpt_kill");
  const std::string ckpt = " --checkpoint-every 2 --checkpoint-dir " + dir;
  const auto killed = hpsim("HPSIM_TEST=1 HPSIM_FAULT=exit:1:5", 2, "run --plan " + kPlan + " " + layout + " " + steps + ckpt);
  CHECK(killed.code != 0);
  CHECK(fs::exists(fs::path(dir) / "step-00000004" / "manifest.json"));
  CHECK(!fs::exists(fs::path(dir) / "step-00000006"));
  const Trained after_kill = run(2, layout, steps + ckpt + " --resume " + dir);
  CHECK(after_kill.first_step == 5);
  check_same_as(after_kill, whole);
  CHECK(fs::exists(fs::path(dir) / "step-00000006" / "manifest.json"));  // the restart checkpoints on

  // Rank 1 dies halfway through its shard of step 4: step 4 is torn (rank 0's file, rank 1's temporary, no
  // manifest) and never loaded; the restart resumes from step 2 (the warm-up is behind it) and rewrites step 4.
  const std::string dir2 = temp_dir("ckpt_torn");
  const std::string ckpt2 = " --checkpoint-every 2 --checkpoint-dir " + dir2;
  const auto torn = hpsim("HPSIM_TEST=1 HPSIM_FAULT=checkpoint:1:4", 2, "run --plan " + kPlan + " " + layout + " " + steps + ckpt2);
  CHECK(torn.code != 0);
  CHECK(fs::exists(fs::path(dir2) / "step-00000004" / "rank-0.bin"));
  CHECK(!fs::exists(fs::path(dir2) / "step-00000004" / "rank-1.bin"));
  CHECK(!fs::exists(fs::path(dir2) / "step-00000004" / "manifest.json"));
  const auto r = hpsim("HPSIM_TEST=1", 2, "run --plan " + kPlan + " " + layout + " " + steps + ckpt2 + " --resume " + dir2 +
                                               " --format json");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("skipped torn checkpoint step-00000004: no manifest.json") != std::string::npos);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["warmup_loss"].empty());
  check_same_as({j["loss"].get<std::vector<double>>(), j["first_step"].get<std::int64_t>(),
                 j["weights_digest"].get<std::string>()},
                whole);
  CHECK(j["checkpoints"] == nlohmann::json::array({4, 6}));
  CHECK(fs::exists(fs::path(dir2) / "step-00000004" / "manifest.json"));
}

TEST_CASE("run_checkpoint_refused: a checkpoint of another run, none complete, nothing left: exit 2, one line") {
  const std::string dir = temp_dir("ckpt_refused");
  run(2, "--dp 2", "--warmup 0 --steps 2 --checkpoint-every 2 --checkpoint-dir " + dir);
  auto refused = [&](int ranks, const std::string& args, const std::string& needle) {
    const auto r = hpsim("HPSIM_TEST=1", ranks, "run --plan " + kPlan + " " + args);
    INFO(args << ": " << r.err);
    CHECK(r.code == 2);
    const auto at = r.err.find("hpsim: error: ");
    REQUIRE(at != std::string::npos);
    CHECK(r.err.find("hpsim: error: ", at + 1) == std::string::npos);  // said once
    CHECK(r.err.find("hpsim run: rank") == std::string::npos);         // no abort
    CHECK(r.err.find(needle, at) != std::string::npos);
  };
  refused(2, "--tp 2 --warmup 0 --steps 4 --resume " + dir,
          dir + ": --resume: the checkpoint at step 2 is of another run: tp 1 in the checkpoint, 2 in this run");
  refused(2, "--dp 2 --zero 1 --warmup 0 --steps 4 --resume " + dir, "zero 0 in the checkpoint, 1 in this run");
  refused(1, "--warmup 0 --steps 4 --resume " + dir, "2 ranks in the checkpoint, 1 in this run");
  refused(2, "--dp 2 --warmup 0 --steps 2 --resume " + dir, "nothing left to run");
  refused(2, "--dp 2 --resume " + dir + "/missing", dir + "/missing: --resume: not a directory");
  fs::remove(fs::path(dir) / "step-00000002" / "rank-0.bin");
  refused(2, "--dp 2 --warmup 0 --steps 4 --resume " + dir,
          "no complete checkpoint (1 torn one skipped: step-00000002: rank-0.bin is missing)");
  refused(0, "--dp 2 --checkpoint-every 2", "--checkpoint-every requires --checkpoint-dir");  // parsed before MPI
}

TEST_CASE("run_timeout: a stalled rank is the one named, not the first rank that noticed") {
  for (const int late : {1, 0}) {
    CAPTURE(late);
    const auto r = hpsim("HPSIM_TEST=1 HPSIM_FAULT=stall:" + std::to_string(late) + ":2", 2,
                         "run --plan " + kPlan + " --tp 2 --warmup 0 --steps 3 --step-timeout-s 2");
    INFO(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("hpsim run: step 2 did not finish within --step-timeout-s 2 s: rank " + std::to_string(late) +
                     " did not arrive (the other ranks wait for it)") != std::string::npos);
  }
  // --help states the default.
  const auto h = hpsim("", 0, "run --help");
  CHECK(h.out.find("--step-timeout-s FLOAT:POSITIVE=600") != std::string::npos);
}
