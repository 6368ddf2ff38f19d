#include "planner/search.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "core/error.hpp"
#include "planner/cost_cache.hpp"
#include "planner/memory_model.hpp"
#include "planner/pipeline_bound.hpp"
#include "planner/pipeline_balance.hpp"
#include "planner/pipeline_split.hpp"
#include "planner/plan_fields.hpp"
#include "planner/step_costs.hpp"

namespace hpsim::planner {

namespace {

using core::Seconds;

std::vector<std::int64_t> divisors(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) {
      out.push_back(d);
      if (d != n / d) out.push_back(n / d);
    }
  std::sort(out.begin(), out.end());
  return out;
}

/// The values to try for a field: the user's list as given (so that a bad pin is reported by the rule it breaks),
/// else the natural values within the user's range.
std::vector<std::int64_t> domain(const IntChoice& choice, const std::vector<std::int64_t>& natural) {
  if (!choice.values.empty()) return choice.values;
  std::vector<std::int64_t> out;
  for (auto v : natural)
    if (choice.allows(v)) out.push_back(v);
  return out;
}

bool is_power_of_two(std::int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/// A tuple that orders plans for ties: smaller parallelism first, larger micro-batch, less recomputation.
auto tie_key(const Plan& p) {
  return std::make_tuple(p.tp, p.pp, p.cp, p.ep, p.expert_tp(), p.vpp, -p.micro_batch_size, static_cast<int>(p.recompute), p.sp,
                         p.zero, static_cast<int>(p.schedule), p.flash_attention, p.parameter_servers, p.dp);
}

bool plan_before(const Plan& a, const Plan& b) { return tie_key(a) < tie_key(b); }

/// A feasible plan and a lower bound on its step time.
struct Candidate {
  Plan plan;
  double bound_s = 0;
};

/// Lower bound: every pass, its blocking communication and sends, and the optimizer run one after another on a
/// rank's compute stream; rank s cannot start before micro-batch 0 went forward through the stages before it, and
/// the step cannot end before the last micro-batch's gradients went back through them. Tight for even pipelines.
}  // namespace

double step_time_lower_bound_s(const StepCosts& c, const Plan& plan) {
  const std::int64_t p = plan.pp, v = plan.vpp, stages = p * v;
  const double m = static_cast<double>(plan.micro_batches());
  double best = 0, lead = 0, tail = 0;
  for (std::int64_t s = 0; s < p; ++s) {
    double work = 0, params = 0, experts = 0;
    for (std::int64_t k = 0; k < v; ++k) {
      const std::int64_t vs = k * p + s;
      const auto& ch = c.chunks[static_cast<std::size_t>(vs)];
      work += ch.work().value();
      if (vs + 1 < stages) work += c.pp_send[static_cast<std::size_t>(s)].value();
      if (vs > 0) work += c.pp_send[static_cast<std::size_t>((s + p - 1) % p)].value();
      params += ch.parameters;
      experts += ch.expert_parameters;
    }
    const double optimizer = optimizer_step_time(c, plan, params, experts).value();
    best = std::max(best, lead + m * work + tail + optimizer);
    const auto& first = c.chunks[static_cast<std::size_t>(s)];  // chunk 0 of this stage
    lead += (first.forward + first.forward_tp + first.forward_cp + first.forward_ep).value();
    tail += (first.recompute + first.recompute_tp + first.backward + first.backward_tp + first.backward_cp +
             first.backward_ep)
                .value();
  }
  return best;
}

bool rank_before(const StepResult& a, const StepResult& b) {
  if (a.step_time != b.step_time) return a.step_time < b.step_time;
  if (a.memory.peak != b.memory.peak) return a.memory.peak < b.memory.peak;
  return plan_before(a.plan, b.plan);
}

std::string explain_difference(const StepResult& best, const StepResult& other) {
  const auto& a = best.breakdown;
  const auto& b = other.breakdown;
  const std::vector<std::pair<const char*, double>> parts = {
      {"compute", (b.compute - a.compute).value()},
      {"exposed TP communication", (b.tp_comm_exposed - a.tp_comm_exposed).value()},
      {"exposed CP communication", (b.cp_comm_exposed - a.cp_comm_exposed).value()},
      {"exposed EP communication", (b.ep_comm_exposed - a.ep_comm_exposed).value()},
      {"pipeline bubble", (b.pp_bubble - a.pp_bubble).value()},
      {"exposed PP communication", (b.pp_comm_exposed - a.pp_comm_exposed).value()},
      {"exposed DP communication", (b.dp_comm_exposed - a.dp_comm_exposed).value()},
      {"optimizer", (b.other - a.other).value()}};
  const auto top = std::max_element(parts.begin(), parts.end(),
                                    [](const auto& x, const auto& y) { return x.second < y.second; });
  const double gap = (other.step_time - best.step_time).value();
  std::string fields;  // the plan fields that differ, in the table's order
  for (const auto& f : plan_field_table()) {
    const auto x = f.get(best.plan), y = f.get(other.plan);
    if (x != y)
      fields += fmt::format("{}{} {} vs {}", fields.empty() ? "" : ", ", f.key, field_value_text(f, x),
                            field_value_text(f, y));
  }
  if (gap <= 0)
    return fmt::format("the runner-up is as fast; the best wins the tie on memory or the stated order ({})", fields);
  return fmt::format("the best is {:.3f} s ({:.1f} %) faster than the runner-up, mostly {:.3f} s less {} ({})", gap,
                     100 * gap / other.step_time.value(), top->second, top->first, fields);
}

namespace {

unsigned thread_count(const SearchOptions& options) {
  return std::max(1u, options.threads ? options.threads : std::thread::hardware_concurrency());
}

/// Runs fn(0) .. fn(n - 1) on `threads` threads (the caller's among them), each index once, in any order; rethrows
/// a worker's exception after all have stopped.
void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> cursor{0};
  std::exception_ptr failure;  // an exception must not escape a worker thread: rethrown here, after the join
  std::mutex failure_mutex;
  auto work = [&] {
    try {
      for (std::size_t i; (i = cursor.fetch_add(1)) < n;) fn(i);
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      cursor = n;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

/// The model-parallel layout the outer loops fix: tp, pp, cp and the dp they leave.
struct Layout {
  std::int64_t tp = 1, pp = 1, cp = 1, dp = 0;
};

/// What enumerating one layout found: merged in layout order, so the result does not depend on the threads.
struct LayoutFindings {
  std::vector<Candidate> feasible;
  std::int64_t candidates = 0;
  std::map<std::string, std::int64_t> rejected;
  std::map<Rule, std::pair<std::int64_t, Plan>> rule_hits;  ///< count and the first example per broken rule
  std::optional<ClosestMiss> closest_miss;
};

/// Enumerates every candidate within the space, rejects those that break a rule or do not fit, and returns the
/// rest with their lower bounds (in enumeration order). The layouts are enumerated in parallel, each into its own
/// findings; counts and the closest miss go to `result`.
class CandidateEnumerator {
 public:
  CandidateEnumerator(const models::ModelSpec& model, const topologies::ClusterSpec& cluster, const SearchSpace& space,
                      std::int64_t gpus, CostCache& cache, SearchResult& result)
      : model_(model), cluster_(cluster), space_(space), gpus_(gpus), cache_(cache), result_(result),
        recompute_(values(PlanKey::recompute, {0, 1, 2})), sp_(values(PlanKey::sp, {0, 1})),
        zero_(values(PlanKey::zero, {0, 1, 2, 3})), schedule_(values(PlanKey::schedule, {0, 1})),
        flash_(values(PlanKey::flash_attention, {0, 1})), servers_(values(PlanKey::parameter_servers, {0})) {}

  std::vector<Candidate> run(unsigned threads, const std::function<void(double)>& progress) {
    const std::vector<Layout> todo = layouts();
    std::vector<LayoutFindings> found(todo.size());
    const auto caller = std::this_thread::get_id();
    parallel_for(todo.size(), threads, [&](std::size_t i) {
      if (progress && std::this_thread::get_id() == caller)  // the progress bar is not thread-safe
        progress(0.5 * static_cast<double>(i) / static_cast<double>(todo.size()));
      inner_fields(todo[i], found[i]);
    });
    std::vector<Candidate> feasible;
    for (auto& f : found) merge(f, feasible);
    return feasible;
  }

  std::map<Rule, std::pair<std::int64_t, Plan>> rule_hits;  ///< count and one example per broken rule

 private:
  /// The values to try for a field: the user's list as given (so that a bad pin is reported by the rule it breaks),
  /// else the natural values within the user's range.
  std::vector<std::int64_t> values(PlanKey k, const std::vector<std::int64_t>& natural) const {
    return domain(space_.axis(k), natural);
  }

  /// Every (tp, pp, cp) within the space, in enumeration order.
  [[nodiscard]] std::vector<Layout> layouts() const {
    std::vector<std::int64_t> tp_natural;
    for (auto d : divisors(gpus_))
      if (space_.tp_across_nodes || d <= cluster_.gpus_per_node) tp_natural.push_back(d);
    std::vector<Layout> out;
    for (const auto tp : values(PlanKey::tp, tp_natural))
      for (const auto pp : values(PlanKey::pp, divisors(std::max<std::int64_t>(1, gpus_ / std::max<std::int64_t>(1, tp))))) {
        std::vector<std::int64_t> cp_natural;
        for (auto d : divisors(std::max<std::int64_t>(1, gpus_ / std::max<std::int64_t>(1, tp * pp))))
          if (is_power_of_two(d) && d <= 16 && space_.fixed.seq_length % d == 0) cp_natural.push_back(d);
        for (const auto cp : values(PlanKey::cp, cp_natural)) {
          const std::int64_t mp = tp * pp * cp;
          const std::int64_t dp = mp > 0 && gpus_ % mp == 0 ? gpus_ / mp : 0;
          if (dp > 0 && !space_.axis(PlanKey::dp).allows(dp)) continue;
          out.push_back({tp, pp, cp, dp});
        }
      }
    return out;
  }

  void merge(LayoutFindings& f, std::vector<Candidate>& feasible) {
    feasible.insert(feasible.end(), std::make_move_iterator(f.feasible.begin()), std::make_move_iterator(f.feasible.end()));
    result_.candidates += f.candidates;
    for (const auto& [reason, count] : f.rejected) result_.rejected[reason] += count;
    for (const auto& [rule, hit] : f.rule_hits) {
      auto& total = rule_hits[rule];
      if (total.first == 0) total.second = hit.second;
      total.first += hit.first;
    }
    if (f.closest_miss && (!result_.closest_miss || f.closest_miss->memory.peak < result_.closest_miss->memory.peak))
      result_.closest_miss = std::move(f.closest_miss);
  }

  void inner_fields(const Layout& layout, LayoutFindings& found) const {
    Plan p = space_.fixed;
    p.tp = layout.tp, p.pp = layout.pp, p.cp = layout.cp, p.dp = layout.dp;
    const std::int64_t dp = p.dp;
    const auto ep_natural = model_.is_moe() && dp > 0 ? divisors(model_.num_experts) : std::vector<std::int64_t>{1};
    const auto vpp_natural = vpp_values(p.pp);
    const auto mbs_natural = dp > 0 && p.global_batch_size % dp == 0 ? divisors(p.global_batch_size / dp)
                                                                     : std::vector<std::int64_t>{1};
    // Experts' TP: attention's (0) or none (1, Megatron-MoE-ModelZoo's choice for large experts): the two ends keep
    // the search small; the flag pins any other.
    const auto etp_natural = model_.is_moe() && p.tp > 1 ? std::vector<std::int64_t>{0, 1} : std::vector<std::int64_t>{0};
    const bool zero_pinned = space_.axis(PlanKey::zero).pinned();
    const bool zero_has_2 = std::find(zero_.begin(), zero_.end(), 2) != zero_.end();
    for (const auto ep : values(PlanKey::ep, ep_natural))
     for (const auto etp : values(PlanKey::expert_tensor_parallel_size, etp_natural))
      for (const auto vpp : values(PlanKey::vpp, vpp_natural))
        for (const auto mbs : values(PlanKey::micro_batch_size, mbs_natural))
          for (const auto recompute : recompute_)
            for (const auto sp : sp_) {
              if (sp && p.tp == 1) continue;  // the same plan as sp off
              for (const auto zero : zero_) {
                if (zero > 0 && dp * p.cp == 1 && !zero_pinned) continue;  // nothing to shard over
                // FSDP under a pipeline holds each stage unsharded at zero 2 and 3 alike (torchtitan): one plan,
                // listed once, as zero 2.
                if (zero == 3 && p.framework == Framework::fsdp && p.pp > 1 && zero_has_2) continue;
                for (const auto schedule : schedule_)
                  for (const auto flash : flash_)
                    for (const auto servers : servers_) {
                      p.ep = ep, p.expert_tensor_parallel_size = etp, p.vpp = vpp, p.micro_batch_size = mbs, p.zero = zero;
                      p.recompute = static_cast<models::Recompute>(recompute);
                      p.sp = sp != 0;
                      p.schedule = static_cast<Schedule>(schedule);
                      p.flash_attention = flash != 0;
                      p.parameter_servers = servers;
                      consider(p, found);
                    }
              }
            }
  }

  /// Interleaving depths to try: the divisors of the layers per stage when pp divides the layers (whole layers per
  /// virtual stage); otherwise no interleaving (first/last stage counts split any layers over pp <= layers) and the
  /// depths that give whole layer slots per virtual stage with the embedding and/or the loss accounted, as
  /// Megatron-Bridge interleaves Llama 3.1 405B. The balanced split is chosen per candidate; a depth without any
  /// split is left to the rules to explain.
  [[nodiscard]] std::vector<std::int64_t> vpp_values(std::int64_t pp) const {
    const std::int64_t layers = model_.num_layers;
    if (pp <= 1) return {1};
    if (layers % pp == 0) return divisors(layers / pp);
    std::vector<std::int64_t> out = {1};
    for (std::int64_t v = 2; pp * v <= layers + 2; ++v)
      if ((layers + 1) % (pp * v) == 0 || (layers + 2) % (pp * v) == 0) out.push_back(v);
    return out;
  }

  void consider(Plan p, LayoutFindings& found) const {
    ++found.candidates;
    Rule rule = check_model_shape(p, model_);
    if (rule == Rule::ok) rule = p.dp == 0 ? Rule::gpus_by_model_parallel : check_plan(p, model_, cluster_);
    if (rule != Rule::ok) {
      ++found.rejected[std::string(rule_name(rule))];
      auto& hit = found.rule_hits[rule];
      if (hit.first++ == 0) hit.second = p;
      return;
    }
    // A mixed cluster's speed-aware split competes with the split a homogeneous cluster would take (fixed as
    // pipeline_layers, so that simulating it does not re-split it by speed).
    if (cache_.groups() > 0 && cache_.scenario().speed_split() && !split_keys_given(p)) {
      Plan same = homogeneous_pipeline_split(cache_, p);
      if (!split_keys_given(same)) same.pipeline_layers = PipelineSplit(same, model_.num_layers).per_stage();
      const Plan fast = with_pipeline_split(cache_, p);
      admit(same, found);
      if (fast.pipeline_layers != same.pipeline_layers) admit(fast, found);
      return;
    }
    admit(with_pipeline_split(cache_, p), found);  // the balanced split when pp*vpp does not divide the layers
  }

  /// Keeps a plan that keeps every rule if it fits in memory, with its lower bound.
  void admit(const Plan& p, LayoutFindings& found) const {
    const MemoryUse memory = memory_use(cache_, p);
    if (!memory.fits()) {
      ++found.rejected["out of memory"];
      if (!found.closest_miss || memory.peak < found.closest_miss->memory.peak) found.closest_miss = ClosestMiss{p, memory};
      return;
    }
    // Without sends (branch_and_bound adds them where it matters): the collectives of every stage boundary and
    // data-parallel group of every layout are the costliest part of costing on large clusters.
    found.feasible.push_back({p, step_time_lower_bound_s(compute_step_costs(cache_, p, CostScope::chunks), p)});
  }

  const models::ModelSpec& model_;
  const topologies::ClusterSpec& cluster_;
  const SearchSpace& space_;
  std::int64_t gpus_;
  CostCache& cache_;
  SearchResult& result_;
  // The domains that do not depend on the fields enumerated before them, computed once, not per candidate.
  const std::vector<std::int64_t> recompute_, sp_, zero_, schedule_, flash_, servers_;
};

/// Why nothing was returned: the closest miss when valid plans exist but none fits, else the rule most candidates
/// broke, with an example.
[[noreturn]] void explain_nothing_feasible(const SearchResult& result,
                                          const std::map<Rule, std::pair<std::int64_t, Plan>>& rule_hits,
                                          const models::ModelSpec& model, const topologies::ClusterSpec& cluster,
                                          const std::string& where) {
  if (result.closest_miss) {
    const auto& miss = *result.closest_miss;
    throw core::InfeasibleError(fmt::format(
        "no plan fits in memory: the closest ({}) needs {:.1f} GiB per GPU, has {:.1f} GiB usable ({:.1f} GiB HBM)",
        plan_summary_text(miss.plan), miss.memory.peak.value() / 1073741824.0, miss.memory.usable.value() / 1073741824.0,
        miss.memory.capacity.value() / 1073741824.0));
  }
  if (rule_hits.empty()) throw core::InputError(where, "", "the constraints leave no plan to consider");
  const auto most = std::max_element(rule_hits.begin(), rule_hits.end(), [](const auto& x, const auto& y) {
    return x.second.first < y.second.first;
  });
  const RuleBreach b = explain(most->first, most->second.second, model, cluster);
  throw core::InputError(where, b.field, b.message + " (no plan in the constraints keeps this rule)");
}

/// Simulates `plans` on `threads` threads.
std::vector<StepResult> simulate_batch(CostCache& cache, const std::vector<Plan>& plans, unsigned threads) {
  std::vector<StepResult> results(plans.size());
  parallel_for(plans.size(), threads, [&](std::size_t i) { results[i] = simulate_step(cache, plans[i]).result; });
  return results;
}

/// Branch and bound over the candidates sorted by their bound: simulate in that order, in parallel batches, until
/// the bound exceeds the K-th best. A candidate's bound leaves out the pipeline sends (CostScope::chunks); the one
/// about to be simulated gets them first (CostScope::pipeline) and is skipped if its schedule, walked pass by pass
/// (pipeline_step_lower_bound_s: the fill, drain and stalls of the real order, which the closed form cannot see),
/// already exceeds the K-th best; so stage boundaries are modelled, and steps simulated, only for the layouts that
/// come close.
std::vector<StepResult> branch_and_bound(CostCache& cache, const std::vector<Candidate>& feasible,
                                         const SearchOptions& options, SearchResult& result) {
  const unsigned threads = thread_count(options);
  const std::size_t k = std::max<std::size_t>(1, options.top_k);
  std::vector<StepResult> top;
  const std::size_t batch = 4 * threads, window = 4 * batch;
  // The schedule walk of each candidate, once computed (negative: not yet); computed ahead in parallel windows of
  // the candidates the closed form lets through, so the batches are the same as walking one by one.
  std::vector<double> walked(feasible.size(), -1.0);
  const auto walk_ahead = [&](std::size_t from, double kth) {
    std::vector<std::size_t> todo;
    for (std::size_t i = from; i < feasible.size() && todo.size() < window && feasible[i].bound_s <= kth; ++i)
      if (walked[i] < 0) todo.push_back(i);
    parallel_for(todo.size(), threads, [&](std::size_t j) {
      const Plan& p = feasible[todo[j]].plan;
      walked[todo[j]] = pipeline_step_lower_bound_s(compute_step_costs(cache, p, CostScope::step), p);
    });
  };
  for (std::size_t next = 0; next < feasible.size();) {
    const double kth = std::max(top.size() >= k ? top[k - 1].step_time.value() : INFINITY,
                                options.rank_time_s.value_or(0.0));
    if (options.prune && feasible[next].bound_s > kth) break;  // every remaining bound exceeds the K-th best
    std::vector<Plan> plans;
    for (; next < feasible.size() && plans.size() < batch && !(options.prune && feasible[next].bound_s > kth); ++next) {
      if (options.prune && std::isfinite(kth)) {  // no walk can exceed an infinite K-th best
        if (walked[next] < 0) walk_ahead(next, kth);
        if (walked[next] > kth) continue;
      }
      plans.push_back(feasible[next].plan);
    }
    auto results = simulate_batch(cache, plans, threads);
    result.simulated += static_cast<std::int64_t>(results.size());
    for (auto& r : results) {
      if (options.rank_time_s && r.step_time.value() < *options.rank_time_s) ++result.faster_than_rank_time;
      top.push_back(std::move(r));
    }
    std::sort(top.begin(), top.end(), rank_before);
    if (top.size() > k) top.resize(k);
    if (options.progress) options.progress(0.5 + 0.5 * static_cast<double>(next) / static_cast<double>(feasible.size()));
  }
  return top;
}

}  // namespace

SearchResult search_plans(const Scenario& scenario, const SearchSpace& space, const SearchOptions& options) {
  const models::ModelSpec& model = scenario.model();
  const topologies::ClusterSpec& cluster = scenario.cluster();
  const auto started = std::chrono::steady_clock::now();
  const std::string where = "plan constraints";
  if (space.fixed.global_batch_size <= 0)
    throw core::InputError(where, "global_batch_size", "required (a positive integer)");
  const std::int64_t gpus = space.gpus > 0 ? space.gpus : cluster.total_gpus();
  if (gpus > cluster.total_gpus())
    throw core::InputError(where, "gpus",
                           fmt::format("the cluster has {} GPUs, asked for {}", cluster.total_gpus(), gpus));
  SearchSpace resolved = space;
  if (resolved.fixed.seq_length <= 0) resolved.fixed.seq_length = model.seq_length;
  resolved.apply_framework_defaults();

  CostCache cache(scenario);
  SearchResult result;
  CandidateEnumerator enumerate(model, cluster, resolved, gpus, cache, result);
  std::vector<Candidate> feasible = enumerate.run(thread_count(options), options.progress);
  result.feasible = static_cast<std::int64_t>(feasible.size());
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  if (feasible.empty()) {
    if (result.closest_miss && !options.throw_if_nothing_fits) {
      result.search_time_s = elapsed();
      return result;
    }
    explain_nothing_feasible(result, enumerate.rule_hits, model, cluster, where);
  }

  // Branch and bound: simulate in order of the lower bound; stop when it cannot beat the K-th best.
  std::sort(feasible.begin(), feasible.end(), [](const Candidate& a, const Candidate& b) {
    if (a.bound_s != b.bound_s) return a.bound_s < b.bound_s;
    return plan_before(a.plan, b.plan);
  });
  std::vector<StepResult> top = branch_and_bound(cache, feasible, options, result);
  result.plans = std::move(top);
  if (result.plans.size() >= 2) result.why_best = explain_difference(result.plans[0], result.plans[1]);
  result.search_time_s = elapsed();
  return result;
}

}  // namespace hpsim::planner
