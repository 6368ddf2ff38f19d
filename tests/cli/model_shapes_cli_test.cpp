// Today's model shapes through the binary: DeepSeek-V3's published config.json simulates end to end, a misspelt key
// in a Hugging Face config warns, and the new presets are listed.
#include <nlohmann/json.hpp>

#include "run_hpsim.hpp"

using namespace hpsim_test;

TEST_CASE("cli: simulate DeepSeek-V3 from its Hugging Face config.json (MLA, shared experts, 3 dense layers)") {
  const std::string config = std::string(HPSIM_SOURCE_DIR) + "/examples/models/deepseek-v3-config.json";
  const Outcome o = hpsim("simulate --model " + config +
                          " --cluster dgx-h100:128 --tp 8 --pp 8 --ep 16 --global-batch-size 1024 --seq-length 4096 "
                          "--recompute full --format json");
  REQUIRE(o.code == 0);
  CHECK(o.err.empty());  // nothing in the published config looks like a misspelt key
  const auto j = nlohmann::json::parse(o.out);
  CHECK(j["step_time_s"].get<double>() > 0);
  CHECK(j["memory"]["fits"].get<bool>());
}

TEST_CASE("cli: a config.json key close to a known one warns on stderr; the run goes on") {
  const std::string path = temp_path("config.json");
  {
    std::ofstream out(path);
    out << R"({"model_type": "llama", "num_hidden_layers": 4, "hidden_size": 512, "num_attention_heads": 8,
               "num_key_value_head": 2, "vocab_size": 32000, "max_position_embeddings": 1024, "hidden_act": "silu"})";
  }
  const Outcome o = hpsim("simulate --model " + path + " --cluster dgx-a100-80gb:1 --global-batch-size 8");
  std::remove(path.c_str());
  CHECK(o.code == 0);
  CHECK(o.err.find("hpsim simulate: warning: " + path +
                   ": num_key_value_head: ignored; did you mean num_key_value_heads?") != std::string::npos);
}

TEST_CASE("cli: models lists today's presets") {
  const Outcome o = hpsim("models");
  REQUIRE(o.code == 0);
  for (const char* name : {"qwen3-8b", "qwen3-235b-a22b", "deepseek-v3", "mixtral-8x22b", "grok-1", "nemotron4-15b",
                           "nemotron4-340b", "bert-large", "bert-base"})
    CHECK(o.out.find(name) != std::string::npos);
}
