#pragma once
// Helpers the topologies suites share: temporary files to load.
#include <filesystem>
#include <fstream>
#include <string>

namespace hpsim::topologies::testing {

/// Writes `text` to a fresh file under the temporary directory's `folder` and returns its path.
inline std::string write_temp(const std::string& name, const std::string& text,
                              const std::string& folder = "hpsim-topologies-test") {
  const auto dir = std::filesystem::temp_directory_path() / folder;
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace hpsim::topologies::testing
