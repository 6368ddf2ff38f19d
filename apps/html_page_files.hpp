#pragma once
/// The HTML report's page, style and script (apps/html/), compiled into the binary (cmake/EmbedFiles.cmake).
#include <span>

#include "core/embedded_file.hpp"

namespace hpsim::apps {

std::span<const core::EmbeddedFile> html_page_files();

}  // namespace hpsim::apps
