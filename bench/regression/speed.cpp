#include "bench/regression/speed.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace hpsim::bench {

using nlohmann::json;

namespace {

/// The baseline's speed figures when they are relative to the same calibration; otherwise none, with a note.
json comparable_speed_section(const json& baseline, const std::string& calibration, std::vector<std::string>& notes) {
  if (!baseline.is_object()) return json::object();
  const json speed = baseline.value("speed", json::object());
  if (!speed.empty() && baseline.value("calibration", calibration) != calibration) {
    notes.push_back("the baseline's speed figures are relative to " + baseline.value("calibration", std::string()) +
                    ", not " + calibration + "; speed is printed without comparison");
    return json::object();
  }
  return speed;
}

SpeedRow measured_row(const std::string& name, const std::vector<double>& t, double calibration_ns) {
  SpeedRow r;
  r.name = name;
  r.real_time = timed_in_real_time(name);
  r.repetitions = static_cast<int>(t.size());
  r.median_ns = median(t);
  r.ratio = r.median_ns / calibration_ns;
  r.min_ratio = *std::min_element(t.begin(), t.end()) / calibration_ns;
  r.max_ratio = *std::max_element(t.begin(), t.end()) / calibration_ns;
  return r;
}

}  // namespace

std::string to_string(SpeedStatus status) {
  switch (status) {
    case SpeedStatus::ok: return "ok";
    case SpeedStatus::noisy: return "noisy";
    case SpeedStatus::regressed: return "regressed";
    case SpeedStatus::added: return "new";
    case SpeedStatus::missing: return "missing";
    case SpeedStatus::calibration: return "calibration";
  }
  return "?";
}

SpeedStatus speed_status(double change, double band_low, double threshold) {
  if (change > threshold && band_low > threshold) return SpeedStatus::regressed;
  if (change > threshold) return SpeedStatus::noisy;
  return SpeedStatus::ok;
}

SpeedComparison compare_speed(const BenchRuns& runs, const json& baseline, const std::string& calibration,
                              double threshold) {
  SpeedComparison c;
  c.calibration = calibration;
  c.context = runs.context;
  const auto cal = runs.times_ns.find(calibration);
  if (cal == runs.times_ns.end())
    throw core::InputError(runs.path, "--calibration", "benchmark '" + calibration + "' in the run");
  const double cal_ns = median(cal->second);
  const json base_speed = comparable_speed_section(baseline, calibration, c.notes);
  // Sorted by name (a randomly interleaved run lists repetitions in random order), the calibration first.
  std::vector<std::string> names = runs.order;
  std::sort(names.begin(), names.end(), [&](const std::string& x, const std::string& y) {
    return std::make_pair(x != calibration, x) < std::make_pair(y != calibration, y);
  });
  for (const auto& name : names) {
    SpeedRow r = measured_row(name, runs.times_ns.at(name), cal_ns);
    const bool is_calibration = name == calibration;
    r.status = is_calibration ? SpeedStatus::calibration : SpeedStatus::added;
    if (base_speed.contains(name)) {
      const double b = base_speed[name].at("median_ratio").get<double>();
      r.baseline_ratio = b;
      r.change = r.ratio / b - 1;
      r.band_low = r.min_ratio / b - 1;
      r.band_high = r.max_ratio / b - 1;
      if (is_calibration) {
        const double bns = base_speed[name].at("median_ns").get<double>();
        c.machine_factor = bns > 0 ? r.median_ns / bns : 0;
      } else {
        r.status = speed_status(*r.change, *r.band_low, threshold);
      }
    }
    c.rows.push_back(std::move(r));
  }
  for (const auto& [name, b] : base_speed.items())
    if (!runs.times_ns.count(name)) {
      SpeedRow r;
      r.name = name;
      r.baseline_ratio = b.at("median_ratio").get<double>();
      r.status = SpeedStatus::missing;
      c.rows.push_back(std::move(r));
    }
  return c;
}

}  // namespace hpsim::bench
