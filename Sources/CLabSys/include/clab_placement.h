// Where a worker runs and how fast it wakes: CPU affinity and a CPU latency QoS request.
#ifndef CLAB_PLACEMENT_H
#define CLAB_PLACEMENT_H

#include <stdint.h>

/// Restricts the calling process to the `n` CPUs in `cpus` (sched_setaffinity). 0 or -errno.
int clab_set_cpus(const int32_t *cpus, int32_t n);

/// The CPUs this process may run on, ascending, at most `max` of them; their count or -errno.
int clab_allowed_cpus(int32_t *out, int32_t max);

/// Opens /dev/cpu_dma_latency and asks for `microseconds` of wake-up latency at most; the request
/// holds while the returned descriptor stays open (the kernel drops it when it closes, at exit too).
/// The descriptor or -errno.
int clab_hold_cpu_latency(int32_t microseconds);

#endif
