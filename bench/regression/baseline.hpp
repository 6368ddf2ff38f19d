#pragma once
/// The committed baseline (bench/baseline.json): per benchmark its ratio to the calibration, per data set its
/// accuracy figures, and the machine the speed figures come from.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/regression/report.hpp"

namespace hpsim::bench {

/// The schema every baseline names.
inline constexpr const char* kBaselineSchema = "hpsim-report-baseline/1";

/// The baseline at `path`, none when there is no such file; unreadable, invalid or of another schema is an
/// InputError naming `--baseline` (or `schema`).
std::optional<nlohmann::json> read_baseline(const std::string& path);

/// The report's baseline with this run's figures: the speed section (and the machine) when a benchmark run was
/// compared, the accuracy section when data sets were; sections not measured now are kept. Stamped `generated`.
nlohmann::json updated_baseline(const RegressionReport& report, const std::string& generated);

/// Writes updated_baseline(report, now) to the report's baseline file.
void write_baseline(const RegressionReport& report);

}  // namespace hpsim::bench
