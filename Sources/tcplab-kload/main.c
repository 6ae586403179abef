// tcplab-kload: load generators for the lab benchmarks, in C so the Linux kernel is measured, not
// the load generator. Each mode joins a named network namespace first (setns), then:
//   server NS ADDR PORT SECONDS          accept and close every connection (the server closes first)
//   client NS ADDR PORT INFLIGHT SECONDS keep INFLIGHT connects going; on EOF close; print the rate
//   blast  NS IFNAME COUNT RATE           send COUNT timestamped frames (RATE frames/s, 0 = as fast as possible)
//   sink   NS IFNAME SECONDS [blocks]     count blasted frames, print rate and latency percentiles
//                                         (blocks: woken per block of frames, for the rate runs)
// Every loop is bounded by its SECONDS or COUNT.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kload.h"

int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void join(const char *ns) {
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        fprintf(stderr, "tcplab-kload: cannot join %s: %s\n", ns, strerror(errno));
        exit(3);
    }
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tcplab-kload server|client|blast|sink NAMESPACE ...\n");
        return 2;
    }
    join(argv[2]);
    if (!strcmp(argv[1], "server") && argc == 6) return tcp_server(argv[3], atoi(argv[4]), atof(argv[5]));
    if (!strcmp(argv[1], "client") && argc == 7) return tcp_client(argv[3], atoi(argv[4]), atoi(argv[5]), atof(argv[6]));
    if (!strcmp(argv[1], "blast") && argc == 6) return blast(argv[3], atol(argv[4]), atol(argv[5]));
    if (!strcmp(argv[1], "sink") && argc == 5) return sink(argv[3], atof(argv[4]), 0);
    if (!strcmp(argv[1], "sink") && argc == 6 && !strcmp(argv[5], "blocks")) return sink(argv[3], atof(argv[4]), 1);
    fprintf(stderr, "tcplab-kload: bad arguments\n");
    return 2;
}
