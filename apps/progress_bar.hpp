#pragma once
/// A progress bar on stderr for long searches: drawn only on a terminal and only once a second has passed, so
/// quick runs and redirected output stay clean.
#include <chrono>
#include <string>

namespace hpsim::apps {

class ProgressBar {
 public:
  ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar();  ///< clears the bar if it was drawn

  /// `fraction` of the work done, in [0, 1]; `label` says what is running.
  void update(double fraction, const std::string& label = "searching");

 private:
  std::chrono::steady_clock::time_point started_;
  bool terminal_;
  bool drawn_ = false;
};

}  // namespace hpsim::apps
