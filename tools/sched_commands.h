// ubcctl's CPU scheduler verbs: `load --cpu-scheduler`, `sched status|load|unload`, and
// `set 0 --cpuunits` (the host group).
#pragma once

#include <string>

#include "ubc/engine_lifecycle.h"
#include "ubc/host.h"

namespace ubc::cli {

// `ubcctl load`: bring_up_engine, and what it did, printed.
int load(Host& host, CpuSchedulerChoice choice);

// `ubcctl sched status`: which enforcer runs, the host group's weight, why the kernel
// ejected the scheduler if it did, and per-group CPU time and throttling.
int sched_status(Host& host);
// For `doctor`: whether ubc's scheduler runs, or why the kernel ejected it.
void print_scheduler_health(Host& host);
int sched_load(Host& host);
int sched_unload(Host& host);

}  // namespace ubc::cli
