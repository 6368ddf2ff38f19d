#pragma once
/// Internal to the coster: the bytes each directed link carries in one phase of a collective, summed over the
/// concurrent groups' transfers, and the time the busiest link needs for them.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "costs/collectives.hpp"
#include "topologies/link_layout.hpp"

namespace hpsim::costs::detail {

/// Scratch for one models() call. Its per-link buffer (as long as the graph has links: 1.2 MB for 16,384 H100s) is
/// borrowed from the calling thread and handed back all zero, so a call neither allocates nor clears it whole.
class LinkLoads {
 public:
  LinkLoads(const topologies::LinkLayout& layout, const std::vector<double>& seconds_per_byte, RouteTrace* trace)
      : layout_(layout), seconds_per_byte_(seconds_per_byte), trace_(trace) {
    std::swap(scratch_, thread_scratch());
    if (scratch_.bytes.size() < seconds_per_byte.size()) scratch_.bytes.resize(seconds_per_byte.size(), 0.0);
  }
  LinkLoads(const LinkLoads&) = delete;
  LinkLoads& operator=(const LinkLoads&) = delete;
  ~LinkLoads() {
    clear();
    std::swap(scratch_, thread_scratch());
  }

  /// `bytes` from `src` to `dst`, leaving the node through NIC `nic` (-1: the source's nearest), spread over the
  /// route's links as ECMP spreads them.
  void send(std::int64_t src, std::int64_t dst, double bytes, std::int64_t nic = -1) {
    if (trace_ != nullptr) record(src, dst, nic);
    layout_.for_each_hop(src, dst, nic, [&](std::int64_t link, double fraction) { add(link, bytes * fraction); });
  }

  /// `bytes` each way between `a` and `b` over the same links (the way back is the way there reversed: link pairs
  /// are numbered (2i, 2i+1), so one route serves both directions).
  void exchange(std::int64_t a, std::int64_t b, double bytes, std::int64_t nic = -1) {
    if (trace_ != nullptr) record(a, b, nic);
    layout_.for_each_hop(a, b, nic, [&](std::int64_t link, double fraction) {
      add(link, bytes * fraction);
      add(link ^ 1, bytes * fraction);
    });
  }

  /// Seconds the busiest link needs for what was sent; clears the loads.
  double drain() {
    double worst = 0.0;
    for (const std::int64_t l : scratch_.touched) {
      const auto i = static_cast<std::size_t>(l);
      worst = std::max(worst, scratch_.bytes[i] * seconds_per_byte_[i]);
      scratch_.bytes[i] = 0.0;
    }
    scratch_.touched.clear();
    return worst;
  }

 private:
  struct Scratch {
    std::vector<double> bytes;           ///< per link; zero outside a phase
    std::vector<std::int64_t> touched;  ///< the links loaded in this phase
  };
  static Scratch& thread_scratch() {
    thread_local Scratch scratch;
    return scratch;
  }
  void clear() {
    for (const std::int64_t l : scratch_.touched) scratch_.bytes[static_cast<std::size_t>(l)] = 0.0;
    scratch_.touched.clear();
  }
  void add(std::int64_t link, double bytes) {
    double& b = scratch_.bytes[static_cast<std::size_t>(link)];
    if (b == 0.0) scratch_.touched.push_back(link);
    b += bytes;
  }
  void record(std::int64_t src, std::int64_t dst, std::int64_t nic) {
    UsedRoute used{src, dst, nic, {}};
    layout_.for_each_hop(src, dst, nic,
                         [&](std::int64_t link, double fraction) { used.hops.push_back({link, fraction}); });
    trace_->push_back(std::move(used));
  }

  const topologies::LinkLayout& layout_;
  const std::vector<double>& seconds_per_byte_;
  RouteTrace* trace_;
  Scratch scratch_;
};

}  // namespace hpsim::costs::detail
