/// The link graph: a Boost.Graph adjacency list whose vertex and edge numbering follows LinkLayout.
#include "topologies/link_graph.hpp"

#include <stdexcept>

#include <boost/graph/adjacency_list.hpp>

namespace hpsim::topologies {

namespace {
struct VertexProps {
  DeviceKind kind = DeviceKind::gpu;
};
struct EdgeProps {
  std::int64_t id = 0;  ///< index into links()
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, VertexProps, EdgeProps>;
}  // namespace

struct LinkGraph::Impl {
  explicit Impl(const ClusterSpec& c) : layout(c), graph(static_cast<std::size_t>(layout.vertex_count)) {
    links.resize(static_cast<std::size_t>(layout.link_count));
    const LinkLayout& L = layout;
    auto set_kind = [&](std::int64_t v, DeviceKind k) { graph[static_cast<std::size_t>(v)].kind = k; };
    // A link pair: `up` goes a→b, `up + 1` goes b→a.
    auto pair = [&](std::int64_t up, std::int64_t a, std::int64_t b, core::BytesPerSecond bw, LinkClass cls) {
      links[static_cast<std::size_t>(up)] = Link{a, b, bw, cls};
      links[static_cast<std::size_t>(up + 1)] = Link{b, a, bw, cls};
    };
    for (std::int64_t n = 0; n < L.nodes; ++n) {
      const std::int64_t nvs = L.nvswitch_base + n;
      set_kind(nvs, DeviceKind::nvswitch);
      for (std::int64_t g = 0; g < L.gpus_per_node; ++g) {
        const std::int64_t r = n * L.gpus_per_node + g;
        set_kind(r, DeviceKind::gpu);
        pair(L.gpu_up(r), r, nvs, c.intra_node_bandwidth, LinkClass::nvlink);
      }
      for (std::int64_t k = 0; k < L.nics_per_node; ++k) {
        const std::int64_t nic = L.nic_base + n * L.nics_per_node + k;
        set_kind(nic, DeviceKind::nic);
        // PCIe between a GPU and its NIC runs at least at the NIC's rate: model it as the NIC rate.
        for (std::int64_t g = 0; g < L.gpus_per_node; ++g)
          if (L.attached(g, k))
            pair(L.gpu_to_nic(n, g, k), n * L.gpus_per_node + g, nic, c.nic_bandwidth, LinkClass::network);
        const std::int64_t leaf = L.leaf_base + L.group_of(n) * L.nics_per_node + k;
        pair(L.nic_up(n, k), nic, leaf, c.nic_bandwidth, LinkClass::network);
      }
    }
    for (std::int64_t q = 0; q < L.leaf_groups; ++q) {
      const std::int64_t members = std::min(L.nodes_per_leaf, L.nodes - q * L.nodes_per_leaf);
      for (std::int64_t k = 0; k < L.nics_per_node; ++k) {
        const std::int64_t leaf = L.leaf_base + q * L.nics_per_node + k;
        set_kind(leaf, DeviceKind::leaf);
        if (L.spine_vertex < 0) continue;
        // Uplinks carry the leaf's downlink capacity divided by the oversubscription ratio.
        pair(L.leaf_up(q, k), leaf, L.spine_vertex,
             c.nic_bandwidth * (static_cast<double>(members) / c.fabric_oversubscription), LinkClass::network);
      }
    }
    if (L.spine_vertex >= 0) set_kind(L.spine_vertex, DeviceKind::spine);
    for (std::size_t id = 0; id < links.size(); ++id)
      boost::add_edge(static_cast<std::size_t>(links[id].from), static_cast<std::size_t>(links[id].to),
                      EdgeProps{static_cast<std::int64_t>(id)}, graph);
  }

  LinkLayout layout;
  Graph graph;
  std::vector<Link> links;
};

LinkGraph::LinkGraph(const ClusterSpec& cluster) : impl_(std::make_shared<const Impl>(cluster)) {}

std::int64_t LinkGraph::gpu_vertex(std::int64_t rank) const {
  if (rank < 0 || rank >= impl_->layout.nodes * impl_->layout.gpus_per_node)
    throw std::out_of_range("LinkGraph: rank " + std::to_string(rank) + " outside the cluster");
  return rank;
}

std::int64_t LinkGraph::vertex_count() const { return impl_->layout.vertex_count; }
const std::vector<Link>& LinkGraph::links() const { return impl_->links; }
const LinkLayout& LinkGraph::layout() const { return impl_->layout; }

DeviceKind LinkGraph::kind(std::int64_t vertex) const {
  if (vertex < 0 || vertex >= vertex_count())
    throw std::out_of_range("LinkGraph: vertex " + std::to_string(vertex) + " does not exist");
  return impl_->graph[static_cast<std::size_t>(vertex)].kind;
}

std::string LinkGraph::vertex_name(std::int64_t v) const {
  const LinkLayout& L = impl_->layout;
  switch (kind(v)) {
    case DeviceKind::gpu:
      return "gpu " + std::to_string(v) + " (node " + std::to_string(L.node_of(v)) + ", local " +
             std::to_string(L.local_of(v)) + ")";
    case DeviceKind::nvswitch: return "nvswitch (node " + std::to_string(v - L.nvswitch_base) + ")";
    case DeviceKind::nic: {
      const std::int64_t i = v - L.nic_base;
      return "nic " + std::to_string(i % L.nics_per_node) + " (node " + std::to_string(i / L.nics_per_node) + ")";
    }
    case DeviceKind::leaf: {
      const std::int64_t i = v - L.leaf_base;
      return "leaf rail " + std::to_string(i % L.nics_per_node) + " (group " + std::to_string(i / L.nics_per_node) +
             ")";
    }
    case DeviceKind::spine: return "spine";
  }
  return "?";
}

std::vector<std::int64_t> LinkGraph::route(std::int64_t src, std::int64_t dst, std::int64_t nic_local_index) const {
  (void)gpu_vertex(src);
  (void)gpu_vertex(dst);
  if (nic_local_index >= impl_->layout.nics_per_node)
    throw std::out_of_range("LinkGraph: NIC " + std::to_string(nic_local_index) + " does not exist");
  std::int64_t buffer[LinkLayout::kMaxRouteLinks];
  const int n = impl_->layout.route(src, dst, nic_local_index, buffer);
  return {buffer, buffer + n};
}

std::vector<std::int64_t> LinkGraph::out_links(std::int64_t vertex) const {
  (void)kind(vertex);
  std::vector<std::int64_t> out;
  for (auto [it, end] = boost::out_edges(static_cast<std::size_t>(vertex), impl_->graph); it != end; ++it)
    out.push_back(impl_->graph[*it].id);
  return out;
}

}  // namespace hpsim::topologies
