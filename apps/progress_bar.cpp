#include "apps/progress_bar.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <unistd.h>

namespace hpsim::apps {

ProgressBar::ProgressBar() : started_(std::chrono::steady_clock::now()), terminal_(::isatty(2) != 0) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputs("\r\033[K", stderr);
}

void ProgressBar::update(double fraction, const std::string& label) {
  if (!terminal_ || std::chrono::steady_clock::now() - started_ < std::chrono::seconds(1)) return;
  constexpr int kWidth = 40;
  const double f = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::lround(f * kWidth));
  std::fprintf(stderr, "\r[%s%s] %3.0f %% %s\033[K", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, ' ').c_str(), f * 100, label.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace hpsim::apps
