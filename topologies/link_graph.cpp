/// The link graph: a Boost.Graph (compressed sparse rows, built once from the link list) whose vertex and edge
/// numbering follows LinkLayout. Its shortest paths (Dijkstra) are the routes; LinkLayout caches them per class of
/// GPU pairs.
#include "topologies/link_graph.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>

namespace hpsim::topologies {

namespace {
struct EdgeProps {
  std::int64_t id = 0;      ///< index into links()
  std::int64_t weight = 1;  ///< routing cost (LinkGraph::link_weight)
};
/// Compressed sparse rows rather than an adjacency list: the graph never changes once built, and one allocation
/// per array instead of one per edge and per vertex made the adjacency list's construction (and destruction) a
/// large part of the coster's on 16,384 GPUs.
using Graph = boost::compressed_sparse_row_graph<boost::bidirectionalS, boost::no_property, EdgeProps>;
using Vertex = Graph::vertex_descriptor;

constexpr std::int64_t kNvlinkHopWeight = 1, kNetworkHopWeight = 2, kMaxHopWeight = 2;
static_assert(kNvlinkHopWeight >= 1 && kNetworkHopWeight <= kMaxHopWeight, "the bucket queue holds weights 1..max");
constexpr std::int64_t kUnreached = std::numeric_limits<std::int64_t>::max() / 4;  ///< plus a weight stays finite
std::int64_t weight_of(const Link& l) { return l.link_class == LinkClass::nvlink ? kNvlinkHopWeight : kNetworkHopWeight; }

/// Weighted distances from `source` to every vertex (Boost's Dijkstra): what LinkGraph::distances() answers, and the
/// independent reference the routing tests compare the cached routes with.
std::vector<std::int64_t> distances_from(const Graph& g, std::int64_t source) {
  std::vector<std::int64_t> dist(boost::num_vertices(g));
  boost::dijkstra_shortest_paths(g, static_cast<Vertex>(source),
                                 boost::weight_map(boost::get(&EdgeProps::weight, g))
                                     .distance_map(boost::make_iterator_property_map(
                                         dist.begin(), boost::get(boost::vertex_index, g)))
                                     .distance_inf(kUnreached));
  return dist;
}

/// Every vertex's out-links as flat arrays (its links in [first[v], first[v + 1])), for the route cache's searches.
struct OutLinks {
  std::vector<std::int32_t> first, head;
  std::vector<std::int8_t> weight;
};

OutLinks out_links_of(const std::vector<Link>& links, std::size_t vertices) {
  OutLinks out;
  out.first.assign(vertices + 1, 0);
  for (const Link& l : links) ++out.first[static_cast<std::size_t>(l.from) + 1];
  for (std::size_t v = 0; v < vertices; ++v) out.first[v + 1] += out.first[v];
  std::vector<std::int32_t> fill(out.first.begin(), out.first.end() - 1);
  out.head.resize(links.size());
  out.weight.resize(links.size());
  for (const Link& l : links) {
    const auto i = static_cast<std::size_t>(fill[static_cast<std::size_t>(l.from)]++);
    out.head[i] = static_cast<std::int32_t>(l.to);
    out.weight[i] = static_cast<std::int8_t>(weight_of(l));
  }
  return out;
}

/// Dijkstra from `source` with a bucket queue (Dial's algorithm: link weights are 1 or 2, so the vertices waiting
/// are at most 2 apart and three buckets hold them), stopping once every target is settled. Then the targets and
/// every vertex nearer than the farthest of them have their exact distance and the others a larger one (or
/// kUnreached), which is all ecmp_hops reads. A heap's O(log V) per vertex made these searches most of the
/// coster's construction on large clusters.
std::vector<std::int64_t> distances_to(const OutLinks& out, std::int64_t source,
                                       const std::vector<std::int64_t>& targets) {
  const std::size_t n = out.first.size() - 1;
  std::vector<std::int64_t> dist(n, kUnreached);
  std::vector<char> is_target(n, 0);
  for (const std::int64_t t : targets) is_target[static_cast<std::size_t>(t)] = 1;
  auto left = static_cast<std::int64_t>(std::count(is_target.begin(), is_target.end(), 1));
  std::array<std::vector<std::int32_t>, kMaxHopWeight + 1> buckets;
  dist[static_cast<std::size_t>(source)] = 0;
  buckets[0].push_back(static_cast<std::int32_t>(source));
  std::size_t waiting = 1;
  for (std::int64_t d = 0; waiting > 0 && left > 0; ++d) {
    auto& bucket = buckets[static_cast<std::size_t>(d % (kMaxHopWeight + 1))];
    for (std::size_t i = 0; i < bucket.size() && left > 0; ++i) {
      const auto v = static_cast<std::size_t>(bucket[i]);
      if (dist[v] != d) continue;  // settled earlier at a shorter distance
      if (is_target[v] && --left == 0) break;
      for (std::int32_t e = out.first[v]; e < out.first[v + 1]; ++e) {
        const auto u = static_cast<std::size_t>(out.head[static_cast<std::size_t>(e)]);
        const std::int64_t nd = d + out.weight[static_cast<std::size_t>(e)];
        if (nd >= dist[u]) continue;
        dist[u] = nd;
        buckets[static_cast<std::size_t>(nd % (kMaxHopWeight + 1))].push_back(static_cast<std::int32_t>(u));
        ++waiting;
      }
    }
    waiting -= bucket.size();
    bucket.clear();
  }
  return dist;
}

/// The shortest-path DAG from `source` to `target` (given the distances from `source`), with the share of a unit
/// flow on each link when every vertex splits what reaches it evenly over its next hops in the DAG (ECMP).
std::vector<RouteHop> ecmp_hops(const Graph& g, const std::vector<std::int64_t>& dist, std::int64_t source,
                                std::int64_t target) {
  struct DagEdge {
    Vertex from, to;
    std::int64_t link;
  };
  std::vector<DagEdge> dag;
  std::vector<Vertex> stack{static_cast<Vertex>(target)}, seen{static_cast<Vertex>(target)};
  while (!stack.empty()) {  // walk back from the target over links that lie on a shortest path
    const Vertex v = stack.back();
    stack.pop_back();
    for (auto [it, end] = boost::in_edges(v, g); it != end; ++it) {
      const Vertex u = boost::source(*it, g);
      if (dist[u] + g[*it].weight != dist[v]) continue;
      dag.push_back({u, v, g[*it].id});
      if (std::find(seen.begin(), seen.end(), u) == seen.end() && u != static_cast<Vertex>(source)) {
        seen.push_back(u);
        stack.push_back(u);
      }
    }
  }
  std::sort(dag.begin(), dag.end(), [&](const DagEdge& a, const DagEdge& b) {
    if (dist[a.from] != dist[b.from]) return dist[a.from] < dist[b.from];
    return a.from != b.from ? a.from < b.from : a.link < b.link;
  });
  // Distances grow along every link, so a vertex's inflow is complete before its out-links come in this order.
  std::vector<std::pair<Vertex, double>> flow{{static_cast<Vertex>(source), 1.0}};
  auto flow_of = [&](Vertex v) -> double& {
    for (auto& [u, f] : flow)
      if (u == v) return f;
    return flow.emplace_back(v, 0.0).second;
  };
  std::vector<RouteHop> hops;
  for (std::size_t i = 0; i < dag.size();) {
    std::size_t j = i;
    while (j < dag.size() && dag[j].from == dag[i].from) ++j;
    const double share = flow_of(dag[i].from) / static_cast<double>(j - i);
    for (; i < j; ++i) {
      hops.push_back({dag[i].link, share});
      flow_of(dag[i].to) += share;
    }
  }
  return hops;
}

/// The graph of `links` over `vertices` vertices, edge i being link i.
Graph graph_of(const std::vector<Link>& links, std::size_t vertices) {
  std::vector<std::pair<std::size_t, std::size_t>> ends;
  std::vector<EdgeProps> props;
  ends.reserve(links.size());
  props.reserve(links.size());
  for (std::size_t id = 0; id < links.size(); ++id) {
    ends.emplace_back(static_cast<std::size_t>(links[id].from), static_cast<std::size_t>(links[id].to));
    props.push_back(EdgeProps{static_cast<std::int64_t>(id), weight_of(links[id])});
  }
  return Graph(boost::edges_are_unsorted_multi_pass, ends.begin(), ends.end(), props.begin(), vertices);
}
}  // namespace

struct LinkGraph::Impl {
  explicit Impl(const ClusterSpec& c)
      : layout(c),
        links(static_cast<std::size_t>(layout.link_count)),
        kinds(static_cast<std::size_t>(layout.vertex_count), DeviceKind::gpu) {
    add_nodes(c);
    add_fabric(c);
    graph = graph_of(links, kinds.size());
    cache_routes();
  }

  void set_kind(std::int64_t v, DeviceKind k) { kinds[static_cast<std::size_t>(v)] = k; }
  /// A link pair: `up` goes a→b, `up + 1` goes b→a.
  void pair(std::int64_t up, std::int64_t a, std::int64_t b, core::BytesPerSecond bw, LinkClass cls) {
    links[static_cast<std::size_t>(up)] = Link{a, b, bw, cls};
    links[static_cast<std::size_t>(up + 1)] = Link{b, a, bw, cls};
  }

  /// GPUs, NVSwitches, NICs and their links to the leaves.
  void add_nodes(const ClusterSpec& c) {
    const LinkLayout& L = layout;
    for (std::int64_t n = 0; n < L.nodes; ++n) {
      const std::int64_t nvs = L.nvswitch_base + n;
      set_kind(nvs, DeviceKind::nvswitch);
      for (std::int64_t g = 0; g < L.gpus_per_node; ++g) {
        const std::int64_t r = n * L.gpus_per_node + g;
        set_kind(r, DeviceKind::gpu);
        pair(L.gpu_up(r), r, nvs, c.intra_node_bandwidth, LinkClass::nvlink);
      }
      for (std::int64_t k = 0; k < L.nics_per_node; ++k) {
        const std::int64_t nic = L.nic_vertex(n, k);
        set_kind(nic, DeviceKind::nic);
        // PCIe between a GPU and its NIC runs at least at the NIC's rate: model it as the NIC rate.
        for (std::int64_t g = 0; g < L.gpus_per_node; ++g)
          if (L.attached(g, k))
            pair(L.gpu_to_nic(n, g, k), n * L.gpus_per_node + g, nic, c.nic_bandwidth, LinkClass::network);
        pair(L.nic_up(n, k), nic, L.leaf_vertex(L.group_of(n), L.plane_of(k)), c.nic_bandwidth, LinkClass::network);
      }
    }
  }

  /// Leaves, spines and cores. Uplinks carry the switch's downlink capacity divided by its tier's oversubscription,
  /// spread evenly over the switches above it.
  void add_fabric(const ClusterSpec& c) {
    const LinkLayout& L = layout;
    const double nics_per_plane = static_cast<double>(L.nics_per_node / L.planes);
    std::vector<double> pod_uplink_bytes_per_s(static_cast<std::size_t>(L.pods * L.planes), 0.0);
    for (std::int64_t q = 0; q < L.leaf_groups; ++q) {
      const auto members = static_cast<double>(std::min(L.nodes_per_leaf, L.nodes - q * L.nodes_per_leaf));
      const std::int64_t pod = q / L.groups_per_pod;
      for (std::int64_t p = 0; p < L.planes; ++p) {
        set_kind(L.leaf_vertex(q, p), DeviceKind::leaf);
        if (L.spine_base < 0) continue;
        const core::BytesPerSecond up = c.nic_bandwidth * (members * nics_per_plane / c.fabric_oversubscription);
        pod_uplink_bytes_per_s[static_cast<std::size_t>(pod * L.planes + p)] += up.value();
        for (std::int64_t s = 0; s < L.spines; ++s)
          pair(L.leaf_up(q, p, s), L.leaf_vertex(q, p), L.spine_vertex(pod, p, s),
               up * (1.0 / static_cast<double>(L.spines)), LinkClass::network);
      }
    }
    if (L.spine_base < 0) return;
    const double per_spine_core = 1.0 / (static_cast<double>(L.spines * L.cores) * c.fabric.pod_oversubscription);
    for (std::int64_t pod = 0; pod < L.pods; ++pod)
      for (std::int64_t p = 0; p < L.planes; ++p)
        for (std::int64_t s = 0; s < L.spines; ++s) {
          set_kind(L.spine_vertex(pod, p, s), DeviceKind::spine);
          for (std::int64_t k = 0; L.core_base >= 0 && k < L.cores; ++k) {
            set_kind(L.core_vertex(p, k), DeviceKind::core);
            const double rate = pod_uplink_bytes_per_s[static_cast<std::size_t>(pod * L.planes + p)] * per_spine_core;
            pair(L.spine_up(pod, p, s, k), L.spine_vertex(pod, p, s), L.core_vertex(p, k),
                 core::BytesPerSecond(rate), LinkClass::network);
          }
        }
  }

  /// Fills the layout's route cache: one Dijkstra from every GPU and every NIC of node 0, then the ECMP DAG to a
  /// representative of each class (same node; each NIC of the node; a node in the same leaf group, the same pod,
  /// another pod).
  void cache_routes() {
    LinkLayout& L = layout;
    const OutLinks out = out_links_of(links, static_cast<std::size_t>(L.vertex_count));
    const std::int64_t G = L.gpus_per_node;
    std::vector<std::int64_t> targets;
    for (std::int64_t gs = 0; gs < G; ++gs) {
      targets.clear();
      for (std::int64_t g = 0; g < G; ++g) targets.push_back(g);
      for (std::int64_t k = 0; k < L.nics_per_node; ++k) targets.push_back(L.nic_vertex(0, k));
      const auto dist = distances_to(out, gs, targets);
      for (std::int64_t gd = 0; gd < G; ++gd)
        if (gd != gs) L.cache_route(L.local_class(gs, gd), 0, 0, ecmp_hops(graph, dist, gs, gd));
      for (std::int64_t k = 0; k < L.nics_per_node; ++k)
        L.cache_route(L.to_nic_class(gs, k), 0, 0, ecmp_hops(graph, dist, gs, L.nic_vertex(0, k)));
    }
    targets.clear();
    for (std::int64_t relation = 1; relation <= 3; ++relation)
      for (std::int64_t gd = 0; L.representative_node(relation) >= 0 && gd < G; ++gd)
        targets.push_back(L.representative_node(relation) * G + gd);
    for (std::int64_t k = 0; k < L.nics_per_node && !targets.empty(); ++k) {
      const auto dist = distances_to(out, L.nic_vertex(0, k), targets);
      for (const std::int64_t t : targets) {
        const std::int64_t dn = t / G, relation = dn == L.representative_node(1) ? 1 : dn == L.representative_node(2) ? 2 : 3;
        L.cache_route(L.from_nic_class(relation, k, t % G), 0, dn, ecmp_hops(graph, dist, L.nic_vertex(0, k), t));
      }
    }
    L.seal_routes();
  }

  LinkLayout layout;
  std::vector<Link> links;
  std::vector<DeviceKind> kinds;  ///< per vertex
  Graph graph;
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
  return impl_->kinds[static_cast<std::size_t>(vertex)];
}

std::string LinkGraph::vertex_name(std::int64_t v) const {
  const LinkLayout& L = impl_->layout;
  const auto str = [](std::int64_t i) { return std::to_string(i); };
  switch (kind(v)) {
    case DeviceKind::gpu: return "gpu " + str(v) + " (node " + str(L.node_of(v)) + ", local " + str(L.local_of(v)) + ")";
    case DeviceKind::nvswitch: return "nvswitch (node " + str(v - L.nvswitch_base) + ")";
    case DeviceKind::nic: {
      const std::int64_t i = v - L.nic_base;
      return "nic " + str(i % L.nics_per_node) + " (node " + str(i / L.nics_per_node) + ")";
    }
    case DeviceKind::leaf: {
      const std::int64_t i = v - L.leaf_base;
      return (L.rail_optimized() ? "leaf rail " + str(i % L.planes) + " (group " : "leaf (group ") + str(i / L.planes) +
             ")";
    }
    case DeviceKind::spine: {
      const std::int64_t i = v - L.spine_base;
      return "spine " + str(i % L.spines) + " (pod " + str(i / L.spines / L.planes) +
             (L.rail_optimized() ? ", rail " + str(i / L.spines % L.planes) : std::string()) + ")";
    }
    case DeviceKind::core: {
      const std::int64_t i = v - L.core_base;
      return "core " + str(i % L.cores) + (L.rail_optimized() ? " (rail " + str(i / L.cores) + ")" : std::string());
    }
  }
  return "?";
}

std::vector<RouteHop> LinkGraph::route(std::int64_t src, std::int64_t dst, std::int64_t nic_local_index) const {
  (void)gpu_vertex(src);
  (void)gpu_vertex(dst);
  if (nic_local_index >= impl_->layout.nics_per_node)
    throw std::out_of_range("LinkGraph: NIC " + std::to_string(nic_local_index) + " does not exist");
  std::vector<RouteHop> hops(static_cast<std::size_t>(impl_->layout.max_route_hops()));
  hops.resize(static_cast<std::size_t>(impl_->layout.route(src, dst, nic_local_index, hops.data())));
  return hops;
}

std::int64_t LinkGraph::link_weight(std::int64_t link) const { return weight_of(impl_->links.at(static_cast<std::size_t>(link))); }

std::vector<std::int64_t> LinkGraph::distances(std::int64_t from_vertex) const {
  (void)kind(from_vertex);
  return distances_from(impl_->graph, from_vertex);
}

std::vector<std::int64_t> LinkGraph::out_links(std::int64_t vertex) const {
  (void)kind(vertex);
  std::vector<std::int64_t> out;
  for (auto [it, end] = boost::out_edges(static_cast<Vertex>(vertex), impl_->graph); it != end; ++it)
    out.push_back(impl_->graph[*it].id);
  return out;
}

}  // namespace hpsim::topologies
