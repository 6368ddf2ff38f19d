// The checkpoint's building blocks on one rank: the checksum, the fault-injection syntax, a shard written and read
// back, and the manifest that makes a step complete.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <unistd.h>

#include "core/error.hpp"
#include "exec/checkpoint.hpp"
#include "exec/fault_injection.hpp"

using namespace hpsim;

TEST_CASE("1rank: fnv1a64 is the published FNV-1a 64-bit hash") {
  CHECK(exec::fnv1a64("", 0) == 0xcbf29ce484222325ULL);   // the offset basis
  CHECK(exec::fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);  // the reference value for "a"
  CHECK(exec::fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
  CHECK(exec::fnv1a64("bar", 3, exec::fnv1a64("foo", 3)) == exec::fnv1a64("foobar", 6));  // continues
}

TEST_CASE("1rank: HPSIM_FAULT is KIND:RANK:STEP or an input error") {
  CHECK(exec::FaultInjection::parse("").kind == exec::FaultKind::none);
  const auto f = exec::FaultInjection::parse("checkpoint:3:12");
  CHECK(f.kind == exec::FaultKind::checkpoint);
  CHECK(f.rank == 3);
  CHECK(f.step == 12);
  for (const char* bad : {"exit", "exit:1", "exit:1:0", "exit:-1:2", "boom:1:2", "exit:1:2x", "stall:1:2:3"})
    CHECK_THROWS_AS(exec::FaultInjection::parse(bad), core::InputError);
}

TEST_CASE("1rank: a shard and its manifest make a complete step; the shard reads back as written") {
  const auto dir = std::filesystem::temp_directory_path() / ("hpsim_ckpt_format_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  exec::TrainerState s;
  s.counters = {1234, 7, 6, 65536.0, 1, 5, 2};
  s.params = {1.0F, -2.5F, 3.25F, 0.0F};
  s.adam_m = {0.5F, 0.25F};
  s.adam_v = {1e-8F, 2e-8F};
  exec::RunIdentity id;
  id.fields = {{"tp", "1"}, {"seed", "1234"}};
  const std::string step_dir = exec::checkpoint_step_dir(dir.string(), 7);
  CHECK(std::filesystem::path(step_dir).filename() == "step-00000007");
  const auto rec = exec::write_checkpoint_shard(step_dir, 0, 1, id.fingerprint(), s);
  // header: 8 magic + 4 x 4 + 8 fingerprint + 7 x 8 counters + 3 x 8 counts = 112 bytes, then 8 floats
  CHECK(rec.bytes == 112 + 8 * sizeof(float));
  // Without its manifest the step is torn, and said so.
  auto none = exec::find_resume_point(dir.string());
  CHECK(none.step_dir.empty());
  REQUIRE(none.skipped.size() == 1);
  CHECK(none.skipped[0] == "step-00000007: no manifest.json (the write did not finish)");
  exec::write_checkpoint_manifest(step_dir, 7, id, {rec});
  const auto point = exec::find_resume_point(dir.string());
  REQUIRE(point.step_dir == step_dir);
  CHECK(point.step == 7);
  CHECK(point.skipped.empty());
  CHECK(exec::resume_mismatch(point, id, 1).empty());
  CHECK(exec::resume_mismatch(point, id, 2) == "1 ranks in the checkpoint, 2 in this run");
  exec::RunIdentity other = id;
  other.fields[0].second = "2";
  CHECK(exec::resume_mismatch(point, other, 1) == "tp 1 in the checkpoint, 2 in this run");
  const exec::TrainerState back = exec::read_checkpoint_shard(point, 0);
  CHECK(back.counters.seed == 1234);
  CHECK(back.counters.step == 7);
  CHECK(back.counters.adam_steps == 6);
  CHECK(back.counters.loss_scale == 65536.0);
  CHECK(back.counters.skipped_steps == 1);
  CHECK(back.counters.good_in_row == 5);
  CHECK(back.counters.hysteresis_left == 2);
  CHECK(back.params == s.params);
  CHECK(back.adam_m == s.adam_m);
  CHECK(back.adam_v == s.adam_v);
  std::filesystem::remove_all(dir);
}
