#define _GNU_SOURCE
#include "clab_placement.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

int clab_set_cpus(const int32_t *cpus, int32_t n) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int32_t i = 0; i < n; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return -EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}

int clab_allowed_cpus(int32_t *out, int32_t max) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
    int32_t count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < max; cpu++)
        if (CPU_ISSET(cpu, &set)) out[count++] = cpu;
    return count;
}

int clab_hold_cpu_latency(int32_t microseconds) {
    // The PM QoS interface (Documentation/power/pm_qos_interface.rst): a binary s32 written to the
    // open file is this file's request; closing the file removes it.
    int fd = open("/dev/cpu_dma_latency", O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    if (write(fd, &microseconds, sizeof microseconds) != (ssize_t)sizeof microseconds) {
        int err = errno ? errno : EIO;
        close(fd);
        return -err;
    }
    return fd;
}
