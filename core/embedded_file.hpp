#pragma once
/// A data file compiled into the binary (presets), see cmake/EmbedFiles.cmake.
#include <span>
#include <string_view>

namespace hpsim::core {

/// File name (no directory) and its whole text.
struct EmbeddedFile {
  std::string_view name;
  std::string_view text;
};

}  // namespace hpsim::core
