#pragma once
/// A lower bound of the step time that follows the pipeline schedule pass by pass, as the search's last test before
/// it simulates a candidate: each rank's forward and backward passes with their blocking communication and sends, in
/// the schedule's order, each starting when its input has arrived. Of the data-parallel work it keeps only what is
/// certain whatever else happens: ZeRO-1/2's parameter gathers at the start of the step (they are the first tasks on
/// the data-parallel stream, so they run from time 0 back to back, and compute runs at the rate their kernels leave
/// it) and that the optimizer waits for every gradient reduction. Everything it leaves out only adds time, so the
/// simulated step is never shorter; without data parallelism it is the simulated step.
#include "planner/plan.hpp"
#include "planner/step_costs.hpp"

namespace hpsim::planner {

/// Seconds; `costs` must hold the data-parallel collectives (CostScope::step) for the gathers to count.
double pipeline_step_lower_bound_s(const StepCosts& costs, const Plan& plan);

}  // namespace hpsim::planner
