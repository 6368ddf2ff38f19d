#include <doctest/doctest.h>

#include "core/error.hpp"
#include "planner/plan.hpp"

using namespace hpsim;
using namespace hpsim::planner;

namespace {

Plan resolve(const std::string& yaml, const std::string& model = "gpt3-175b",
             const std::string& cluster = "dgx-a100-80gb:128") {
  const core::Fields f(core::parse_yaml_text(yaml, "plan.yaml"), "plan.yaml");
  return resolve_plan(plan_from_fields(f), models::load_model(model), topologies::load_cluster(cluster), "plan.yaml");
}

void check_rejected(const std::string& yaml, const std::string& needle, const std::string& model = "gpt3-175b",
                    const std::string& cluster = "dgx-a100-80gb:128") {
  CAPTURE(yaml);
  try {
    (void)resolve(yaml, model, cluster);
    FAIL("accepted an impossible plan");
  } catch (const core::InputError& e) {
    const std::string what = e.what();
    CAPTURE(what);
    CHECK(what.find("plan.yaml") != std::string::npos);
    CHECK(what.find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("plan: dp is derived from the cluster and seq_length from the model") {
  const Plan p = resolve("{tp: 8, pp: 8, global_batch_size: 1536}");
  CHECK(p.dp == 16);
  CHECK(p.seq_length == 2048);
  CHECK(p.micro_batches() == 96);
}

TEST_CASE("plan: each broken rule is an input error naming the field") {
  check_rejected("{tp: 5, global_batch_size: 1536, dp: 1}", "tp");                       // heads by tp
  check_rejected("{tp: 8, pp: 7, global_batch_size: 1536, dp: 1}", "pp");                // layers by pp
  check_rejected("{tp: 8, pp: 4, vpp: 5, global_batch_size: 1536, dp: 1}", "vpp");       // layers by pp*vpp
  check_rejected("{tp: 8, pp: 8, global_batch_size: 1000}", "global_batch_size");       // gbs by mbs*dp
  check_rejected("{tp: 8, pp: 6, global_batch_size: 1536}", "dp");                       // GPUs by tp*pp*cp
  check_rejected("{tp: 8, pp: 8, dp: 32, global_batch_size: 1536}", "dp");               // more GPUs than cluster
  check_rejected("{tp: 8, pp: 8, cp: 3, dp: 1, global_batch_size: 64}", "cp");           // sequence by cp
  check_rejected("{tp: 8, ep: 2, dp: 16, pp: 8, global_batch_size: 1536}", "ep");        // ep needs MoE
  check_rejected("{tp: 8, pp: 1, vpp: 2, dp: 1, global_batch_size: 64}", "vpp");         // vpp needs pp
  check_rejected("{tp: 8, pp: 8, vpp: 2, dp: 16, global_batch_size: 16 }", "vpp");       // m by pp
  check_rejected("{tp: 8, zero: 4, global_batch_size: 64}", "zero");
  check_rejected("{tp: 8, recompute: sometimes, global_batch_size: 64}", "recompute");
  check_rejected("{tp: -2, global_batch_size: 64}", "tp");
  check_rejected("{tp: eight, global_batch_size: 64}", "tp");
  check_rejected("{tp: 8}", "global_batch_size");
  check_rejected("{tp: 8, tensor_parallel: 2, global_batch_size: 64}", "tensor_parallel");
  check_rejected("{tp: 1, ep: 3, global_batch_size: 64}", "ep", "mixtral-8x7b", "dgx-h100:1");
}
