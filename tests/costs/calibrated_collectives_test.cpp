// A calibration's collective fits price their collectives: the expected times are worked by hand from the fits'
// definition (hpsim's per-step model: a ring all-gather, reduce-scatter or all-to-all of S over n ranks is n-1 steps
// of the fit's latency and (n-1)/n·S over each rank's link at the fit's bandwidth; send/recv one step of S).
#include <doctest/doctest.h>

#include <string>

#include "core/fields.hpp"
#include "costs/collectives.hpp"

using namespace hpsim;
using namespace hpsim::costs;

namespace {

using Groups = std::vector<std::vector<std::int64_t>>;

/// A one-node, four-rank machine as `hpsim calibrate` describes it (link efficiencies 1: the fits are achieved
/// rates), with the collective fits `collectives` (YAML) and a send/recv fit when `send_recv`.
topologies::ClusterSpec calibrated(const std::string& collectives, bool send_recv) {
  const std::string text =
      "name: lab\ngpus_per_node: 4\nnics_per_node: 1\nintra_node_efficiency: 1\ninter_node_efficiency: 1\n"
      "gpu: {peak_tflop_per_s: {fp32: 1}, hbm_gib: 80, hbm_gbyte_per_s: 3000, sm_count: 132}\n"
      "calibration:\n  backend: cuda\n  ranks: 4\n  date: 2026-01-02T03:04:05Z\n  device: lab gpu\n"
      "  collectives:\n" + collectives + (send_recv ? "  send_recv: {latency_us: 1, bandwidth_gbyte_per_s: 90}\n" : "");
  return topologies::cluster_from_fields(core::Fields(core::parse_yaml_text(text, "lab.yaml"), "lab.yaml"));
}

const std::string kAllReduce = "    all_reduce:\n      ring: {latency_us: 5, bandwidth_gbyte_per_s: 150}\n";
const std::string kEveryFit = kAllReduce +
                              "    all_gather:\n      ring: {latency_us: 2, bandwidth_gbyte_per_s: 40}\n"
                              "    reduce_scatter:\n      ring: {latency_us: 3, bandwidth_gbyte_per_s: 60}\n"
                              "    all_to_all:\n      ring: {latency_us: 4, bandwidth_gbyte_per_s: 20}\n";
const std::vector<std::int64_t> kFour = {0, 1, 2, 3};
const core::Bytes kS = core::gigabytes(1);

double seconds(const CollectiveCoster& coster, Collective op, const std::vector<std::int64_t>& group) {
  return coster.time(op, kS, group).value();
}

/// One collective on a group and its time worked by hand.
struct Expected {
  Collective op;
  std::vector<std::int64_t> group;
  double seconds;
};

void check_times(const CollectiveCoster& coster, const std::vector<Expected>& cases) {
  for (const auto& c : cases) {
    CAPTURE(to_string(c.op));
    CHECK(seconds(coster, c.op, c.group) == doctest::Approx(c.seconds));
  }
}

}  // namespace

TEST_CASE("calibrated collectives: each fitted collective takes its own fit's latency and bandwidth") {
  check_times(CollectiveCoster(calibrated(kEveryFit, true)),
              {
                  {Collective::all_gather, kFour, 3 * 2e-6 + 0.75e9 / 40e9},      // 3 steps of 2 us, 3/4 GB at 40 GB/s
                  {Collective::reduce_scatter, kFour, 3 * 3e-6 + 0.75e9 / 60e9},  // 3 steps of 3 us, 3/4 GB at 60
                  {Collective::all_to_all, kFour, 3 * 4e-6 + 0.75e9 / 20e9},  // 1/4 GB to each of 3 peers at 20
                  {Collective::send_recv, {0, 1}, 1e-6 + 1e9 / 90e9},         // one step of 1 us, 1 GB at 90
                  // all-reduce: its fit is the intra-node link: 6 steps of 5 us, 2·3/4 GB at 150 GB/s.
                  {Collective::all_reduce, kFour, 6 * 5e-6 + 1.5e9 / 150e9},
                  // broadcast has no fit: the intra-node link, a chain of 3 steps, S per hop.
                  {Collective::broadcast, kFour, 3 * 5e-6 + 1e9 / 150e9},
              });
}

TEST_CASE("calibrated collectives: without its fit a collective runs on the intra-node link (the all-reduce fit)") {
  const double ring_of_four = 3 * 5e-6 + 0.75e9 / 150e9;
  const CollectiveCoster coster(calibrated(kAllReduce, false));
  check_times(coster, {
                          {Collective::all_gather, kFour, ring_of_four},
                          {Collective::reduce_scatter, kFour, ring_of_four},
                          {Collective::all_to_all, kFour, ring_of_four},
                          {Collective::send_recv, {0, 1}, 5e-6 + 1e9 / 150e9},
                      });
}

TEST_CASE("calibrated collectives: a fit equal to the all-reduce fit prices exactly as the intra-node link does") {
  const std::string same = kAllReduce + "    all_gather:\n      ring: {latency_us: 5, bandwidth_gbyte_per_s: 150}\n";
  const CollectiveCoster fitted(calibrated(same, false)), nominal(calibrated(kAllReduce, false));
  for (const auto& group : Groups{kFour, {1, 3}, {0, 2, 3}})
    CHECK(seconds(fitted, Collective::all_gather, group) == seconds(nominal, Collective::all_gather, group));
}
