#pragma once
/// How the report writes its figures (shared by the verdict's lines and the Markdown tables).
#include <string>

namespace hpsim::bench {

/// A fraction as a signed percentage: "+1.5 %", "−3.0 %" (a true minus sign).
std::string signed_pct(double fraction, int digits = 1);

/// A signed number: "+0.25", "−1.00".
std::string signed_num(double v, int digits);

/// A ratio to the calibration benchmark: 4 significant digits, thousands grouped ("71,360", "498.9", "1.166").
std::string ratio_text(double v);

/// A time in ns with its unit, 3 significant digits ("1.5 ms").
std::string time_text(double ns);

}  // namespace hpsim::bench
