// What the load generators share.
#ifndef KLOAD_H
#define KLOAD_H

#include <stdint.h>

/// CLOCK_MONOTONIC in nanoseconds.
int64_t now_ns(void);

/// TCP: accept and close every connection for `seconds`; keep `inflight` connects going for `seconds`.
int tcp_server(const char *addr, int port, double seconds);
int tcp_client(const char *addr, int port, int inflight, double seconds);

/// Raw frames: send `count` timestamped frames at `rate` frames/s (0: as fast as possible); count
/// them at the other end for `seconds` and print the rate and the latency percentiles, woken per
/// frame or, with `blocks`, per block of frames (see sink.c).
int blast(const char *ifname, long count, long rate);
int sink(const char *ifname, double seconds, int blocks);

#endif
