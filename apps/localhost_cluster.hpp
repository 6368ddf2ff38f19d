#pragma once
/// `localhost` as a cluster name: this machine's calibration (`hpsim calibrate`), cached under
/// $XDG_CACHE_HOME/hpsim (default ~/.cache/hpsim). Resolved here in apps/, so that topologies and planner know
/// nothing of the executor: commands map the name to the cache file before loading (planner::ClusterNameResolver).
#include <string>

namespace hpsim::apps {

/// $XDG_CACHE_HOME/hpsim, else $HOME/.cache/hpsim (else ./.hpsim-cache).
std::string cache_dir();
/// The calibration `simulate`/`plan` use for `localhost`: cache_dir()/localhost.yaml.
std::string localhost_cache_file();
/// The `backend` (cpu or cuda) calibration of `ranks` ranks busy at once, as `run` needs it: localhost.yaml when
/// that one is such a calibration, else cache_dir()/localhost-<ranks>ranks.yaml for cpu,
/// localhost-cuda-<ranks>ranks.yaml for cuda (which may not exist yet).
std::string localhost_cache_file(int ranks, const std::string& backend = "cpu");
/// The number of ranks a calibration file was made with (its `calibration:` block's `ranks`); 0 when unknown:
/// unreadable, not a calibration, or written by an older hpsim calibrate without the block.
int calibrated_ranks(const std::string& file);
/// The backend a calibration file measured (its block's `backend`: cpu or cuda); empty when unknown (as above).
std::string calibrated_backend(const std::string& file);
/// `localhost` -> localhost_cache_file(), or an InputError saying how to create it; any other name unchanged.
std::string resolve_cluster_name(const std::string& name);

}  // namespace hpsim::apps
