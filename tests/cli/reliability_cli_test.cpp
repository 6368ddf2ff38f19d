// The reliability items of the CLI: --version names the commit and build type, simulate's CSV and Markdown are
// tables, report refuses to pass without a baseline or anything to measure, multi-line values keep errors to one line.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "tests/cli/run_hpsim.hpp"

using namespace hpsim_test;

namespace {

const std::string kSmall = "simulate --model llama3-8b --cluster dgx-h100:1 --tp 8 --global-batch-size 8";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

/// The lines simulate prints in this format: a table of more than 20 rows.
std::vector<std::string> simulate_rows(const std::string& format) {
  const Outcome o = hpsim(kSmall + " --format " + format);
  REQUIRE(o.code == 0);
  auto rows = lines_of(o.out);
  REQUIRE(rows.size() > 20);
  return rows;
}

}  // namespace

TEST_CASE("reliability: --version names the version, the git commit and the build type") {
  const Outcome o = hpsim("--version");
  CHECK(o.code == 0);
  CHECK(std::regex_search(o.out, std::regex("^hpsim [0-9]+\\.[0-9]+\\.[0-9]+\n")));
  CHECK(std::regex_search(o.out, std::regex("\ncommit ([0-9a-f]{12}|unknown), build type [A-Za-z]+\n")));
  CHECK(o.out.find("executor (run, calibrate): ") != std::string::npos);
}

TEST_CASE("reliability: simulate --format csv is one CSV table of quantity, value and unit") {
  const auto rows = simulate_rows("csv");
  CHECK(rows[0] == "quantity,value,unit");
  for (const auto& r : rows) CHECK(std::count(r.begin(), r.end(), ',') == 2);
  CHECK(std::find(rows.begin(), rows.end(), "model,llama3-8b,") != rows.end());
  CHECK(std::find(rows.begin(), rows.end(), "plan.tp,8,") != rows.end());
  // The step time as the JSON gives it, to 6 significant digits.
  const Outcome j = hpsim(kSmall + " --format json");
  const double step_s = nlohmann::json::parse(j.out)["step_time_s"].get<double>();
  const auto it = std::find_if(rows.begin(), rows.end(), [](const std::string& r) { return r.rfind("step_time,", 0) == 0; });
  REQUIRE(it != rows.end());
  CHECK(std::stod(it->substr(10)) == doctest::Approx(step_s).epsilon(1e-5));
  CHECK(it->substr(it->size() - 2) == ",s");
}

TEST_CASE("reliability: simulate --format md is one Markdown table") {
  const auto rows = simulate_rows("md");
  CHECK(rows[0] == "| quantity | value | unit |");
  CHECK(rows[1] == "| --- | ---: | ---: |");
  for (const auto& r : rows) CHECK((r.front() == '|' && r.back() == '|'));
  CHECK(std::find(rows.begin(), rows.end(), "| memory.fits | true |  |") != rows.end());
}

TEST_CASE("reliability: report refuses without a baseline, or with nothing to measure") {
  expect_input_error("report --baseline /nonexistent/baseline.json --validate " + std::string(HPSIM_SOURCE_DIR) +
                         "/validation/narayanan2021_table1.yaml",
                     "/nonexistent/baseline.json: --baseline: a baseline file");
  expect_input_error("report --no-accuracy --baseline " + std::string(HPSIM_SOURCE_DIR) + "/bench/baseline.json",
                     "--bench: a benchmark run");
  const std::string empty_dir = temp_path("empty_data");
  std::filesystem::create_directories(empty_dir);
  expect_input_error("report --data " + empty_dir + " --baseline " + std::string(HPSIM_SOURCE_DIR) +
                         "/bench/baseline.json",
                     "at least one validation file");
}

TEST_CASE("reliability: a sequence length past the model file's bound (2^24) is refused, not overflowed") {
  expect_input_error(kSmall + " --seq-length 16777217", "seq_length: expected a positive integer up to 16777216");
  CHECK(hpsim(kSmall + " --seq-length 16384").code == 0);
}

TEST_CASE("reliability: a multi-line value in an error stays on one line") {
  const std::string model = write_temp("multiline.yaml",
                                       "name: m\nnum_hidden_layers: 2\nhidden_size: 64\nnum_attention_heads: 4\n"
                                       "intermediate_size: 256\nvocab_size: 128\nseq_length: 64\n"
                                       "tie_word_embeddings: false\n\n  - stray\n");
  expect_input_error("simulate --model " + model + " --cluster dgx-h100:1 --global-batch-size 8",
                     "tie_word_embeddings: expected true or false, got 'false\\n- stray'");
}

TEST_CASE("reliability: a cluster beyond any built is refused before it is costed, naming the field and the limit") {
  // 8,000,000 GPUs took 28 s and 5.5 GB before the limit; now it is refused at load.
  const Outcome huge = hpsim("simulate --model llama3-8b --cluster dgx-a100-80gb:1000000 --global-batch-size 8000000");
  CHECK(huge.code == 2);
  CHECK(huge.err.find("at most 262144 GPUs in all, got 1000000 nodes of 8 GPUs") != std::string::npos);
  const std::string file = write_temp("wide_node.yaml", "preset: dgx-h100\nnodes: 2\ngpus_per_node: 65536\n");
  const Outcome wide = hpsim("simulate --model llama3-8b --cluster " + file + " --global-batch-size 16");
  CHECK(wide.code == 2);
  CHECK(wide.err.find("gpus_per_node: expected at most 576") != std::string::npos);
  // The largest accepted cluster still simulates.
  const Outcome largest = hpsim("simulate --model llama3-8b --cluster dgx-h100:32768 --global-batch-size 262144");
  CHECK(largest.code == 0);
}
