// Accuracy against published and measured runs is a test: a worse MAPE fails the build.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "planner/plan_file.hpp"
#include "planner/validation.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

// The project's own copies of the published and measured runs (scripts/validation_sets.py wrote them); a missing
// file fails the test.
std::string data_set(const std::string& name) { return std::string(HPSIM_SOURCE_DIR) + "/validation/" + name; }

ValidationReport validate_file(const std::string& path) {
  INFO(path);
  REQUIRE(std::filesystem::exists(path));
  return validate_cases(load_validation_file(path));
}

}  // namespace

TEST_CASE("accuracy: Korthikanti'22 Table 5 within MAPE 5 %, every case within 10 %, all fit") {
  const auto r = validate_file(data_set("korthikanti2022_table5.yaml"));
  CHECK(r.cases.size() == 8);
  CHECK(r.mape <= 0.05);
  CHECK(r.max_abs_error <= 0.10);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: Narayanan'21 Table 1 within MAPE 5 %, every case within 10 %, all fit") {
  const auto r = validate_file(data_set("narayanan2021_table1.yaml"));
  CHECK(r.cases.size() == 10);
  CHECK(r.mape <= 0.05);
  CHECK(r.max_abs_error <= 0.10);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: vTrain's 109 multi-node runs do not get worse (MAPE, rank correlation)") {
  const auto r = validate_file(data_set("vtrain_a100_multi_node.yaml"));
  CHECK(r.cases.size() == 109);
  // Regression guards at the level reached so far (docs/accuracy.md has the figures): tighten as the model improves.
  CHECK(r.mape <= 0.084 + 0.005);  // MAPE 8.4 % since the tree's per-level latency, half a point of margin
  CHECK(r.mean_kendall_tau >= 0.60);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: vTrain's 1,440 single-node runs (small layers, host-bound) within MAPE 9 %, tau >= 0.85") {
  // Made by scripts/vtrain_single_node.py from vTrain's CSV.
  const auto r = validate_file(data_set("vtrain_a100_single_node.yaml"));
  CHECK(r.cases.size() == 1440);
  MESSAGE("single-node MAPE " << r.mape << ", worst " << r.max_abs_error << ", mean tau " << r.mean_kendall_tau);
  // Regression guards at the level reached (7.8 %, tau 0.91); without the host's issue time it was 25.8 %, 0.68.
  CHECK(r.mape <= 0.09);
  CHECK(r.max_abs_error <= 0.35);
  CHECK(r.mean_kendall_tau >= 0.85);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: the 49 H100/H200 runs are all answered and do not get worse (MAPE, worst error, tau)") {
  const auto r = validate_file(data_set("h100_dev.yaml"));
  CHECK(r.cases.size() == 49);
  CHECK(r.refused.empty());
  MESSAGE("h100_dev MAPE " << r.mape << ", worst " << r.max_abs_error << ", mean tau " << r.mean_kendall_tau);
  // The goal: MAPE <= 8 % with no case beyond 20 % and none judged out of memory, bf16 and fp8 each <= 8 % (all
  // reached). Guards at today's figures (MAPE 6.1 %, worst 17.8 %, tau 0.983; bf16 4.8 %, fp8 6.9 %) with a margin of
  // half a point (0.01 for tau), so that a change cannot quietly make them worse; tighten when the model improves.
  CHECK(r.mape <= 0.061 + 0.005);
  CHECK(r.max_abs_error <= 0.178 + 0.005);
  CHECK(r.mean_kendall_tau >= 0.983 - 0.01);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);  // every published run ran
  std::map<topologies::Precision, std::vector<double>> by_precision;
  for (const auto& c : r.cases) by_precision[c.result.plan.precision].push_back(std::abs(c.error));
  const std::map<topologies::Precision, double> guard = {{topologies::Precision::bf16, 0.048 + 0.005},
                                                        {topologies::Precision::fp8, 0.069 + 0.005}};
  for (const auto& [precision, errors] : by_precision) {
    double mape = 0;
    for (const double e : errors) mape += e / static_cast<double>(errors.size());
    MESSAGE(topologies::to_string(precision) << ": " << errors.size() << " runs, MAPE " << mape);
    REQUIRE(guard.count(precision) == 1);
    CHECK_MESSAGE(mape <= guard.at(precision), topologies::to_string(precision));
  }
  CHECK(by_precision.size() == 2);  // bf16 and fp8
  // Peak memory against the 14 torchtitan runs that publish theirs (the allocator's peak reserved): a guard at
  // today's figures (MAPE 12.4 %, worst 30.2 %: the H200 runs, which hpsim expects to need 13-14 GiB more than the
  // 47-48 GiB they took; the 70B 2D runs 15-19 GiB less), half a point of margin.
  CHECK(r.memory_cases == 14);
  CHECK(r.memory_mape <= 0.124 + 0.005);
  CHECK(r.memory_max_abs_error <= 0.302 + 0.005);
}

TEST_CASE("accuracy: the 405B uneven-pipeline runs are all answered with the split each source states") {
  const auto r = validate_file(data_set("h100_405b_uneven_pipeline.yaml"));
  CHECK(r.cases.size() == 11);
  CHECK(r.refused.empty());
  MESSAGE("405B uneven MAPE " << r.mape << ", worst " << r.max_abs_error);
  for (const auto& c : r.cases) {
    CHECK_MESSAGE(c.result.memory.fits(), c.id);  // every published run ran
    std::int64_t layers = 0;
    for (const auto n : c.result.layers_per_virtual_stage) layers += n;
    CHECK_MESSAGE(layers == 126, c.id);
  }
  // A guard at today's figures (MAPE 7.7 %, worst 20.6 %: the 256k-token CP run, too fast), half a point of margin,
  // so that a change cannot quietly make them worse. It was 6.1 % / 18.9 % while the 500 W part ran FP8 GEMMs at
  // BF16's capped clock, 10-15 % below Meta's published FP8 GEMM rates on that part (compute_cost_test); at FP8's
  // own clock the six torchtitan pipeline runs read 5-10 points too fast, which the non-pipelined torchtitan FP8
  // runs of h100_dev (8B, 70B on the same part) do not: something their pipeline schedule costs is not modelled.
  CHECK(r.mape <= 0.077 + 0.005);
  CHECK(r.max_abs_error <= 0.206 + 0.005);
  // Peak memory of the six torchtitan runs (the allocator's peak reserved): hpsim expects 19.5 % less on average
  // (62-64 GiB against 73-85), and the same 62.3 GiB for every CP degree where the runs grew from 75 to 85 GiB. A
  // guard at today's figures, half a point of margin.
  CHECK(r.memory_cases == 6);
  CHECK(r.memory_mape <= 0.195 + 0.005);
  CHECK(r.memory_max_abs_error <= 0.266 + 0.005);
}

TEST_CASE("planner quality: on every published case the planner's best is at least as fast as the published plan") {
  // h100_dev: its cases state their framework, execution and kernels, which the search keeps (it once reset them to
  // the framework's defaults and ranked compiled runs against eager ones).
  for (const char* name : {"korthikanti2022_table5.yaml", "narayanan2021_table1.yaml", "h100_dev.yaml"}) {
    const std::string path = data_set(name);
    REQUIRE(std::filesystem::exists(path));
    const auto cases = load_validation_file(path);
    const auto report = validate_cases(cases);
    for (const auto& q : plan_quality(cases, report)) {
      CAPTURE(q.id);
      CHECK(q.best_s <= q.case_plan_s * (1 + 1e-12));
      CHECK(q.same_features_best_s <= q.case_plan_s * (1 + 1e-12));
      CHECK(q.best_s <= q.same_features_best_s * (1 + 1e-12));
      CHECK(q.case_plan_rank >= 1);
      CHECK(q.case_plan_rank <= q.same_features_feasible);
    }
  }
}
