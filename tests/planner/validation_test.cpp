// The figures of hpsim validate against values worked by hand: Kendall's tau-b on small series (ties included), and
// MAPE / worst |error| of validate_cases on a tiny set whose measured times are set so that each error is known.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "planner/validation.hpp"

using namespace hpsim;
using namespace hpsim::planner;

TEST_CASE("validation: Kendall's tau-b of small series, worked by hand") {
  // 1 2 3 4 against 1 3 2 4: of the 6 pairs only (2nd, 3rd) is discordant: (5 - 1) / 6.
  CHECK(kendall_tau({1, 2, 3, 4}, {1, 3, 2, 4}) == doctest::Approx(4.0 / 6.0));
  // Same order, reversed order.
  CHECK(kendall_tau({1, 2, 3}, {10, 20, 30}) == doctest::Approx(1.0));
  CHECK(kendall_tau({1, 2, 3}, {3, 2, 1}) == doctest::Approx(-1.0));
  // Ties on both sides: a = 1 2 2 3, b = 1 2 3 3. Pairs: (1,2) (1,3) (1,4) (2,4) concordant; (2,3) tied in a only;
  // (3,4) tied in b only. n0 = 6 pairs, n1 = 1 tied in a, n2 = 1 tied in b: tau-b = 4 / sqrt((6-1)(6-1)) = 0.8
  // (tau-a would be 4 / 6).
  CHECK(kendall_tau({1, 2, 2, 3}, {1, 2, 3, 3}) == doctest::Approx(0.8));
  // Ties on one side only: a = 1..5, b = 1 1 2 2 3. n0 = 10, n1 = 0, n2 = 2 ((1,2) and (3,4)); the other 8 pairs
  // are concordant: 8 / sqrt(10 * 8) = 0.894427.
  CHECK(kendall_tau({1, 2, 3, 4, 5}, {1, 1, 2, 2, 3}) == doctest::Approx(0.894427191));
  // A pair tied in both counts in neither n1 nor n2 apart from the tie itself: a = 1 1 2, b = 5 5 6: n0 = 3,
  // n1 = n2 = 1, 2 concordant: 2 / sqrt(2 * 2) = 1.
  CHECK(kendall_tau({1, 1, 2}, {5, 5, 6}) == doctest::Approx(1.0));
  // One discordant pair among ties: a = 1 2 3 3, b = 2 1 3 4: (1,2) discordant, (3,4) tied in a; the other 4
  // concordant: n0 = 6, n1 = 1, n2 = 0: (4 - 1) / sqrt(5 * 6) = 0.547723.
  CHECK(kendall_tau({1, 2, 3, 3}, {2, 1, 3, 4}) == doctest::Approx(0.547722558));
  // No order at all (a constant series): 0, not a division by zero.
  CHECK(kendall_tau({2, 2, 2}, {1, 2, 3}) == 0.0);
}

TEST_CASE("validation: MAPE and worst |error| of a tiny set with known errors; a refused case counts in neither") {
  // Three plans of one model on one GPU count; each measured time is the simulated one over (1 + e), so that the
  // error (predicted - measured) / measured is e: +10 %, -20 %, +5 %. MAPE = (10 + 20 + 5) / 3 = 11.67 %, worst 20 %.
  const auto model = models::load_model("gpt-1.7b");
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");
  const Scenario scenario(model, cluster);
  const double errors[] = {0.10, -0.20, 0.05};
  const int tps[] = {1, 2, 4};
  std::vector<ValidationCase> cases;
  std::vector<double> predicted;
  for (int i = 0; i < 3; ++i) {
    Plan p;
    p.tp = tps[i];
    p.global_batch_size = 64;
    p.micro_batch_size = 4;
    ValidationCase c;
    c.id = "tp" + std::to_string(tps[i]);
    c.model = model;
    c.cluster = cluster;
    c.plan = resolve_plan(p, model, cluster, c.id);
    predicted.push_back(simulate_step(scenario, c.plan).result.step_time.value());
    c.measured_step_time_s = predicted.back() / (1 + errors[i]);
    cases.push_back(c);
  }
  ValidationCase refused = cases[0];
  refused.id = "refused";
  refused.refused = "cannot be expressed";
  refused.measured_step_time_s = 1e-6;  // would be an error of millions of percent if it were counted
  cases.insert(cases.begin() + 1, refused);

  const ValidationReport r = validate_cases(cases);
  REQUIRE(r.cases.size() == 3);
  REQUIRE(r.refused.size() == 1);
  CHECK(r.refused[0].id == "refused");
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(r.cases[i].predicted_step_time_s == doctest::Approx(predicted[i]));
    CHECK(r.cases[i].error == doctest::Approx(errors[i]));
  }
  CHECK(r.mape == doctest::Approx(0.35 / 3));
  CHECK(r.max_abs_error == doctest::Approx(0.20));
  // The three form one group for rank correlation (same model, same GPU count).
  REQUIRE(r.rankings.size() == 1);
  CHECK(r.rankings[0].cases == 3);
  CHECK(r.memory_cases == 0);  // none reports its memory
}

TEST_CASE("validation: peak-memory errors of the cases that report their memory, worked by hand") {
  // Two of three cases report a measured peak, set so that hpsim's peak is 10 % below one and 30 % above the other:
  // MAPE (10 + 30) / 2 = 20 %, worst 30 %, mean signed error (-10 + 30) / 2 = +10 %.
  const auto model = models::load_model("gpt-1.7b");
  const auto cluster = topologies::load_cluster("dgx-a100-80gb:1");
  const Scenario scenario(model, cluster);
  const double errors[] = {-0.10, 0.0, 0.30};
  std::vector<ValidationCase> cases;
  for (int i = 0; i < 3; ++i) {
    Plan p;
    p.tp = 1 << i;
    p.global_batch_size = 64;
    ValidationCase c;
    c.id = "tp" + std::to_string(p.tp);
    c.model = model;
    c.cluster = cluster;
    c.plan = resolve_plan(p, model, cluster, c.id);
    const auto r = simulate_step(scenario, c.plan).result;
    c.measured_step_time_s = r.step_time.value();
    if (errors[i] != 0.0) c.measured_peak_memory_gib = r.memory.peak.value() / (1 << 30) / (1 + errors[i]);
    cases.push_back(c);
  }
  const ValidationReport r = validate_cases(cases);
  CHECK(r.memory_cases == 2);
  CHECK(r.cases[0].memory_error == doctest::Approx(-0.10));
  CHECK(r.cases[1].measured_peak_memory_gib == 0.0);
  CHECK(r.cases[2].memory_error == doctest::Approx(0.30));
  CHECK(r.memory_mape == doctest::Approx(0.20));
  CHECK(r.memory_max_abs_error == doctest::Approx(0.30));
  CHECK(r.memory_mean_error == doctest::Approx(0.10));
}
