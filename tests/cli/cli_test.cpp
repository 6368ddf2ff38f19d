// End-to-end tests of the hpsim binary: exit codes, one-line errors, JSON fields, trace, golden output.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "run_hpsim.hpp"

namespace {

using namespace hpsim_test;

const std::string kGpt3 = "--model gpt3-175b --cluster dgx-a100-80gb:128 ";

}  // namespace

TEST_CASE("cli: simulate prints JSON with every field of the contract") {
  const Outcome o = hpsim("simulate " + kGpt3 + "--tp 8 --pp 8 --global-batch-size 1536 --recompute full --format json");
  REQUIRE(o.code == 0);
  const auto j = nlohmann::json::parse(o.out);
  for (const char* k : {"plan", "gpus", "step_time_s", "tokens_per_s", "model_tflops_per_gpu",
                        "hardware_tflops_per_gpu", "mfu", "memory", "breakdown_s"})
    CHECK(j.contains(k));
  for (const char* k : {"peak_bytes_per_gpu", "capacity_bytes", "fits", "weights_bytes", "gradients_bytes",
                        "optimizer_bytes", "activations_bytes"})
    CHECK(j["memory"].contains(k));
  double sum = 0;
  for (const char* k : {"compute", "tp_comm_exposed", "pp_bubble", "pp_comm_exposed", "dp_comm_exposed", "other"}) {
    REQUIRE(j["breakdown_s"].contains(k));
    sum += j["breakdown_s"][k].get<double>();
  }
  sum += j["breakdown_s"]["cp_comm_exposed"].get<double>() + j["breakdown_s"]["ep_comm_exposed"].get<double>();
  CHECK(sum == doctest::Approx(j["step_time_s"].get<double>()).epsilon(1e-9));
  for (const char* k : {"tp", "pp", "dp", "cp", "ep", "vpp", "sp", "micro_batch_size", "global_batch_size",
                        "seq_length", "recompute", "zero", "precision", "schedule", "tp_comm_overlap",
                        "overlap_grad_reduce", "overlap_param_gather"})
    CHECK(j["plan"].contains(k));
  CHECK(j["plan"]["dp"] == 16);
  CHECK(j["gpus"] == 1024);
}

TEST_CASE("cli: the same input gives byte-identical output") {
  const std::string args = "simulate " + kGpt3 + "--tp 8 --pp 4 --vpp 3 --global-batch-size 1536 --format json";
  const Outcome a = hpsim(args), b = hpsim(args);
  REQUIRE(a.code == 0);
  CHECK(a.out == b.out);
}

TEST_CASE("cli: golden JSON of the built-in example") {
  // Regenerate deliberately with scripts/update_golden.sh.
  const Outcome o = hpsim("simulate --format json");
  REQUIRE(o.code == 0);
  const auto got = nlohmann::json::parse(o.out);
  const auto want = nlohmann::json::parse(slurp(std::string(HPSIM_SOURCE_DIR) + "/tests/golden/simulate_example.json"));
  // Compare every leaf: numbers to 1e-9 relative (formatting), everything else exactly.
  const auto flat_got = got.flatten(), flat_want = want.flatten();
  CHECK(flat_got.size() == flat_want.size());
  for (const auto& [key, value] : flat_want.items()) {
    CAPTURE(key);
    REQUIRE(flat_got.contains(key));
    if (value.is_number_float())
      CHECK(flat_got[key].get<double>() == doctest::Approx(value.get<double>()).epsilon(1e-9));
    else
      CHECK(flat_got[key] == value);
  }
}

TEST_CASE("cli: --trace writes a Chrome trace with one process per simulated rank") {
  const std::string trace = "/tmp/hpsim_cli_trace_" + std::to_string(::getpid()) + ".json";
  const Outcome o = hpsim("simulate --model gpt-1.7b --cluster dgx-a100-80gb:2 --tp 2 --pp 2 --global-batch-size 16 "
                          "--trace " + trace);
  REQUIRE(o.code == 0);
  const auto j = nlohmann::json::parse(slurp(trace));
  int processes = 0, complete = 0;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") ++processes;
    if (e["ph"] == "X") ++complete;
  }
  CHECK(processes == 2);
  CHECK(complete > 10);
  std::remove(trace.c_str());
}

TEST_CASE("cli: models, clusters and validate") {
  const Outcome models = hpsim("models --format json");
  REQUIRE(models.code == 0);
  CHECK(nlohmann::json::parse(models.out).size() >= 21);
  const Outcome clusters = hpsim("clusters");
  REQUIRE(clusters.code == 0);
  CHECK(clusters.out.find("dgx-h100") != std::string::npos);
  const Outcome v = hpsim("validate " + std::string(HPSIM_SOURCE_DIR) + "/validation/korthikanti2022_table5.yaml --format json");
  REQUIRE(v.code == 0);
  const auto j = nlohmann::json::parse(v.out);
  CHECK(j["cases"].size() == 8);
  for (const auto& c : j["cases"])
    for (const char* k : {"id", "predicted_step_time_s", "measured_step_time_s", "error", "fits", "peak_bytes_per_gpu"})
      CHECK(c.contains(k));
  CHECK(j.contains("mape"));
  CHECK(j.contains("max_abs_error"));
}

TEST_CASE("cli: validate answers every case; one it cannot express is refused with its reason, after the rest") {
  const std::string file = write_temp("mixed_cases.yaml",
                                      "cases:\n"
                                      "  - {id: ok-a, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 1.0,\n"
                                      "     plan: {tp: 2, global_batch_size: 16}}\n"
                                      "  - {id: odd-pp, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 1.0,\n"
                                      "     plan: {pp: 2, vpp: 5, dp: 1, global_batch_size: 16}}\n"
                                      "  - {id: ok-b, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 2.0,\n"
                                      "     plan: {tp: 4, global_batch_size: 16}}\n");
  const Outcome j = hpsim("validate " + file + " --format json");
  CHECK(j.code == 2);
  CHECK(std::count(j.err.begin(), j.err.end(), '\n') == 1);
  CHECK(j.err.find("1 of 3 cases refused") != std::string::npos);
  const auto doc = nlohmann::json::parse(j.out);
  REQUIRE(doc["cases"].size() == 3);
  CHECK(doc["refused"] == 1);
  CHECK(doc["answered"] == 2);
  int refused = 0;
  double abs_sum = 0;
  for (const auto& c : doc["cases"]) {
    if (c.contains("refused")) {
      ++refused;
      CHECK(c["id"] == "odd-pp");
      CHECK(c["refused"].get<std::string>().find("pp") != std::string::npos);
      CHECK_FALSE(c.contains("predicted_step_time_s"));
    } else {
      abs_sum += std::abs(c["error"].get<double>());
    }
  }
  CHECK(refused == 1);
  CHECK(doc["mape"].get<double>() == doctest::Approx(abs_sum / 2));  // the refused case is not in the mean
  const Outcome t = hpsim("validate " + file);
  CHECK(t.code == 2);
  CHECK(t.out.find("ok-b") != std::string::npos);  // cases after the refused one are still reported
  CHECK(t.out.find("refused case") != std::string::npos);
  CHECK(t.out.find("odd-pp") != std::string::npos);
}

TEST_CASE("cli: bad input exits 2 with one line naming the file and field") {
  expect_input_error("simulate --model no-such-model --cluster dgx-a100-80gb:1 --global-batch-size 8", "no-such-model");
  expect_input_error("simulate --model gpt3-175b --cluster no-such-cluster:4 --global-batch-size 8", "no-such-cluster");
  expect_input_error("simulate " + kGpt3 + "--tp 5 --global-batch-size 1536", "tp");
  // 96 layers over pp*vpp = 10: no split Megatron allows (97, 98 slots; 96 not a multiple of vpp 5).
  expect_input_error("simulate " + kGpt3 + "--tp 8 --pp 2 --vpp 5 --dp 1 --global-batch-size 1536", "vpp");
  expect_input_error("simulate " + kGpt3 + "--tp 8 --pp 8 --global-batch-size 1000", "global_batch_size");
  expect_input_error("simulate " + kGpt3 + "--tp 8 --pp 8 --dp 64 --global-batch-size 1536", "GPUs");
  expect_input_error("simulate " + kGpt3 + "--tp 8 --pp 8 --global-batch-size -4", "global_batch_size");
  expect_input_error("simulate " + kGpt3 + "--tp 8 --pp 8 --global-batch-size abc", "global_batch_size");
  const std::string broken = write_temp("broken.yaml", "cases: [ {id: x, \n");
  expect_input_error("validate " + broken, broken);
  const std::string missing = write_temp("missing.yaml", "num_hidden_layers: 4\nhidden_size: 256\nvocab_size: 1000\n");
  expect_input_error("simulate --model " + missing + " --cluster dgx-a100-80gb:1 --global-batch-size 8", "num_attention_heads");
  const std::string negative = write_temp("negative.yaml", "num_hidden_layers: -4\nhidden_size: 256\nnum_attention_heads: 4\nvocab_size: 1000\nseq_length: 128\n");
  expect_input_error("simulate --model " + negative + " --cluster dgx-a100-80gb:1 --global-batch-size 8", "num_hidden_layers");
  const std::string cluster = write_temp("cluster.yaml", "preset: dgx-h100\nnodes: 2\nnic_bandwidth_gbit_per_s: fast\n");
  expect_input_error("simulate --model gpt-1.7b --cluster " + cluster + " --global-batch-size 16", "nic_bandwidth_gbit_per_s");
  expect_input_error("validate /nonexistent/cases.yaml", "/nonexistent/cases.yaml");
  for (const char* bad : {"0", "-3", "many", "[1]", ".nan"}) {
    const std::string memory = write_temp("memory.yaml", std::string("cases:\n  - {id: m, model: gpt-1.7b, "
                                                                     "cluster: dgx-a100-80gb:1, measured_step_time_s: 1.0,\n"
                                                                     "     measured_peak_memory_gib: ") +
                                                             bad + ", plan: {global_batch_size: 16}}\n");
    CAPTURE(bad);
    expect_input_error("validate " + memory, "measured_peak_memory_gib");
  }
}

TEST_CASE("cli: validate sets the predicted peak memory beside a measured one where the case reports it") {
  const std::string file = write_temp("memory_cases.yaml",
                                      "cases:\n"
                                      "  - {id: with, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 1.0,\n"
                                      "     measured_peak_memory_gib: 20, plan: {tp: 2, global_batch_size: 16}}\n"
                                      "  - {id: without, model: gpt-1.7b, cluster: dgx-a100-80gb:1, measured_step_time_s: 1.0,\n"
                                      "     plan: {tp: 4, global_batch_size: 16}}\n");
  const Outcome j = hpsim("validate " + file + " --format json");
  REQUIRE(j.code == 0);
  const auto doc = nlohmann::json::parse(j.out);
  REQUIRE(doc["cases"].size() == 2);
  const auto& with = doc["cases"][0];
  const double predicted_gib = with["peak_bytes_per_gpu"].get<double>() / (1024.0 * 1024.0 * 1024.0);
  CHECK(with["measured_peak_memory_gib"].get<double>() == 20.0);
  CHECK(with["memory_error"].get<double>() == doctest::Approx((predicted_gib - 20.0) / 20.0));
  CHECK(doc["cases"][1]["measured_peak_memory_gib"].is_null());  // not reported: not counted
  CHECK(doc["memory"]["cases"] == 1);
  CHECK(doc["memory"]["mape"].get<double>() == doctest::Approx(std::abs(with["memory_error"].get<double>())));
  const Outcome t = hpsim("validate " + file);
  REQUIRE(t.code == 0);
  CHECK(t.out.find("measured GiB") != std::string::npos);
  CHECK(t.out.find("peak memory against the 1 runs that report it") != std::string::npos);
}

TEST_CASE("cli: a plan file is self-contained and flags override it") {
  const std::string plan = write_temp("plan.yaml",
                                      "model: gpt-1.7b\ncluster: dgx-a100-80gb:2\nplan: {tp: 2, pp: 2, global_batch_size: 16}\n");
  const Outcome a = hpsim("simulate --plan " + plan + " --format json");
  REQUIRE(a.code == 0);
  CHECK(nlohmann::json::parse(a.out)["plan"]["dp"] == 4);
  const Outcome b = hpsim("simulate --plan " + plan + " --tp 4 --format json");
  REQUIRE(b.code == 0);
  CHECK(nlohmann::json::parse(b.out)["plan"]["dp"] == 2);
}

TEST_CASE("cli: --full-ranks on a cluster too large to simulate rank by rank is refused, not thrashed") {
  // 16,384 ranks x 2 x 512 micro-batches: about 100 M tasks.
  expect_input_error("simulate --model gpt3-175b --cluster dgx-a100-80gb:2048 --tp 8 --pp 8 --global-batch-size 131072 "
                     "--full-ranks",
                     "rank mode: full (every GPU)");
}

TEST_CASE("cli: the reliability reproducers of typos and half-described clusters end in exit 2, naming the field") {
  const std::string no_gpu = write_temp("no_gpu.yaml", "name: mine\nnodes: 2\nintra_node_bandwidth_gbyte_per_s: 300\n"
                                                       "nic_bandwidth_gbit_per_s: 200\n");
  expect_input_error("simulate --model llama3-8b --cluster " + no_gpu + " --global-batch-size 16", "gpu: missing");
  const std::string typo = write_temp("plan_typo.yaml", "model: llama3-8b\ncluster: dgx-h100:1\n"
                                                        "plan: {tp: 8, global_batch_size: 8}\nplna: {tp: 4}\n");
  expect_input_error("simulate --plan " + typo, "plna: unknown key; did you mean plan?");
  const std::string junk = write_temp("junk.json", "{\"model\": \"llama3-8b\", \"cluster\": \"dgx-h100:1\", "
                                                   "\"plan\": {\"global_batch_size\": 8}}\nx: [[[[\n");
  expect_input_error("simulate --plan " + junk, junk);
}
