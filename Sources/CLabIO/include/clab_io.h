// The few Linux calls the worker needs that Glibc's Swift module does not expose (it is built without
// _GNU_SOURCE and without <linux/if_packet.h>): AF_PACKET sockets, epoll and timerfd.
#ifndef CLAB_IO_H
#define CLAB_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Opens an AF_PACKET/SOCK_RAW socket for every EtherType, bound to interface `ifname`, non-blocking,
/// ignoring frames this host sends itself (PACKET_IGNORE_OUTGOING). Returns the fd, or -errno.
/// `*ifindex` receives the interface index.
int clab_packet_open(const char *ifname, int *ifindex);

/// Like `clab_packet_open`, but also sees the frames this host sends (to capture a kernel node's
/// traffic). `clab_packet_recv_dir` then tells the direction.
int clab_packet_open_capture(const char *ifname, int *ifindex);

/// Receives one frame and sets `*outgoing` to 1 if this host sent it. Returns its length, 0 if none, or -errno.
ssize_t clab_packet_recv_dir(int fd, void *buf, size_t len, int *outgoing);

/// Watches `fd` for writability once (EPOLLOUT | EPOLLONESHOT): a non-blocking connect finishing.
int clab_epoll_add_write_once(int epfd, int fd, uint64_t tag);

/// Receives up to `max` frames in one call (recvmmsg) into `buf`, frame i at `buf + i * stride`, its
/// length in `lens[i]`; frames this host sent are skipped. Returns the number received (0 if none) or -errno.
int clab_packet_recv_batch(int fd, unsigned char *buf, size_t stride, uint32_t *lens, int max);

/// Sends `count` frames in one call (sendmmsg): frame i at `buf + offsets[i]`, `lens[i]` bytes.
/// Returns the number sent or -errno.
int clab_packet_send_batch(int fd, int ifindex, const unsigned char *buf, const uint32_t *offsets,
                           const uint32_t *lens, int count);

/// epoll: create (close-on-exec), add a read-interest fd carrying `tag`, wait. Returns as the syscalls do, -errno on error.
int clab_epoll_create(void);
int clab_epoll_add(int epfd, int fd, uint64_t tag);
/// Waits up to `timeout_ms` (-1 forever); fills `tags` with up to `max` ready tags; returns the count or -errno.
int clab_epoll_wait(int epfd, uint64_t *tags, int max, int timeout_ms);

/// A CLOCK_MONOTONIC timerfd, non-blocking, close-on-exec.
int clab_timerfd_create(void);
/// Arms the timer for an absolute CLOCK_MONOTONIC time in nanoseconds; 0 disarms.
int clab_timerfd_set_absolute(int fd, int64_t ns);
/// Reads the expiration count (clears readiness). Returns count or 0.
uint64_t clab_timerfd_read(int fd);

/// Sets this thread's timer slack (prctl PR_SET_TIMERSLACK): how late the kernel may fire its timers
/// and timeouts to batch wake-ups. Returns 0 or -errno.
int clab_set_timer_slack_ns(unsigned long ns);

/// CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds.
int64_t clab_monotonic_ns(void);
int64_t clab_realtime_ns(void);

#endif
