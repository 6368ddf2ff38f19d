#include "bench/regression/text.hpp"

#include <cmath>

#include <fmt/format.h>

namespace hpsim::bench {

std::string signed_pct(double fraction, int digits) {
  return fmt::format("{}{:.{}f} %", fraction >= 0 ? "+" : "−", std::abs(fraction) * 100, digits);
}

std::string signed_num(double v, int digits) {
  return fmt::format("{}{:.{}f}", v >= 0 ? "+" : "−", std::abs(v), digits);
}

std::string ratio_text(double v) {
  if (v < 1000) return fmt::format("{:.4g}", v);
  std::string digits = fmt::format("{:.0f}", v), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string time_text(double ns) {
  if (ns >= 1e9) return fmt::format("{:.3g} s", ns / 1e9);
  if (ns >= 1e6) return fmt::format("{:.3g} ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:.3g} us", ns / 1e3);
  return fmt::format("{:.3g} ns", ns);
}

}  // namespace hpsim::bench
