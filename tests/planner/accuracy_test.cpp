// Accuracy against published and measured runs is a test: a worse MAPE fails the build.
#include <doctest/doctest.h>

#include <filesystem>
#include <iostream>

#include "planner/plan_file.hpp"
#include "planner/validation.hpp"

using namespace hpsim::planner;

namespace {

bool have(const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  MESSAGE("skipped: " << path << " is not present (the shared data sets sit beside the checkout)");
  return false;
}

ValidationReport validate_file(const std::string& path) { return validate_cases(load_validation_file(path)); }

}  // namespace

TEST_CASE("accuracy: Korthikanti'22 Table 5 within MAPE 5 %, every case within 10 %, all fit") {
  const std::string path = std::string(HPSIM_SHARED_DATA_DIR) + "/published/korthikanti2022_table5.yaml";
  if (!have(path)) return;
  const auto r = validate_file(path);
  CHECK(r.cases.size() == 8);
  CHECK(r.mape <= 0.05);
  CHECK(r.max_abs_error <= 0.10);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: Narayanan'21 Table 1 within MAPE 5 %, every case within 10 %, all fit") {
  const std::string path = std::string(HPSIM_SHARED_DATA_DIR) + "/published/narayanan2021_table1.yaml";
  if (!have(path)) return;
  const auto r = validate_file(path);
  CHECK(r.cases.size() == 10);
  CHECK(r.mape <= 0.05);
  CHECK(r.max_abs_error <= 0.10);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: vTrain's 109 multi-node runs do not get worse (MAPE, rank correlation)") {
  const std::string path = std::string(HPSIM_SHARED_DATA_DIR) + "/measured/vtrain_a100_multi_node.yaml";
  if (!have(path)) return;
  const auto r = validate_file(path);
  CHECK(r.cases.size() == 109);
  // Regression guards at the level reached so far (docs/accuracy.md has the figures): tighten as the model improves.
  CHECK(r.mape <= 0.09);
  CHECK(r.mean_kendall_tau >= 0.60);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("accuracy: vTrain's 1,440 single-node runs (small layers, host-bound) within MAPE 9 %, tau >= 0.85") {
  // validation/vtrain_a100_single_node.yaml, made by scripts/vtrain_single_node.py from the shared CSV.
  const std::string path = std::string(HPSIM_SOURCE_DIR) + "/validation/vtrain_a100_single_node.yaml";
  if (!have(path)) return;
  const auto r = validate_file(path);
  CHECK(r.cases.size() == 1440);
  MESSAGE("single-node MAPE " << r.mape << ", worst " << r.max_abs_error << ", mean tau " << r.mean_kendall_tau);
  // Regression guards at the level reached (7.8 %, tau 0.91); without the host's issue time it was 25.8 %, 0.68.
  CHECK(r.mape <= 0.09);
  CHECK(r.max_abs_error <= 0.35);
  CHECK(r.mean_kendall_tau >= 0.85);
  for (const auto& c : r.cases) CHECK_MESSAGE(c.result.memory.fits(), c.id);
}

TEST_CASE("planner quality: on every published case the planner's best is at least as fast as the published plan") {
  for (const char* name : {"korthikanti2022_table5.yaml", "narayanan2021_table1.yaml"}) {
    const std::string path = std::string(HPSIM_SHARED_DATA_DIR) + "/published/" + name;
    if (!have(path)) continue;
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
