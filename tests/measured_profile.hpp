// A GPU profile measured by one of bench/device/*.py (bench/README.md), read from the checkout for the tests that set
// hpsim's presets beside it.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace hpsim_test {

/// bench/device/`file`, measured on a GPU that reported itself as `device`.
inline nlohmann::json measured_profile(const std::string& file, const std::string& device) {
  std::ifstream in(std::string(HPSIM_SOURCE_DIR) + "/bench/device/" + file);
  REQUIRE_MESSAGE(in.good(), file);
  auto profile = nlohmann::json::parse(in);
  REQUIRE(profile.at("device") == device);
  return profile;
}

}  // namespace hpsim_test
