#define _GNU_SOURCE
#include "clab_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

static int packet_open(const char *ifname, int *ifindex, int ignore_outgoing);

int clab_packet_open(const char *ifname, int *ifindex) { return packet_open(ifname, ifindex, 1); }

int clab_packet_open_capture(const char *ifname, int *ifindex) { return packet_open(ifname, ifindex, 0); }

static int packet_open(const char *ifname, int *ifindex, int ignore_outgoing) {
    int index = (int)if_nametoindex(ifname);
    if (index == 0) return -errno;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) return -errno;
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = index;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    int one = 1;
    // Best effort (Linux 4.20+); recv also filters PACKET_OUTGOING.
    if (ignore_outgoing) (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    // A large receive buffer: bursts (a SYN flood, a bulk transfer) must not be dropped by the socket.
    int size = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    *ifindex = index;
    return fd;
}

ssize_t clab_packet_recv_dir(int fd, void *buf, size_t len, int *outgoing) {
    for (;;) {
        struct sockaddr_ll from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, len, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -errno;
        }
        *outgoing = from.sll_pkttype == PACKET_OUTGOING;
        return n > (ssize_t)len ? (ssize_t)len : n;
    }
}

int clab_packet_recv_batch(int fd, unsigned char *buf, size_t stride, uint32_t *lens, int max) {
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    struct sockaddr_ll from[64];
    if (max > 64) max = 64;
    for (int i = 0; i < max; i++) {
        iov[i].iov_base = buf + (size_t)i * stride;
        iov[i].iov_len = stride;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int n;
    do { n = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL); } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (from[i].sll_pkttype == PACKET_OUTGOING) continue;
        uint32_t len = msgs[i].msg_len > stride ? (uint32_t)stride : msgs[i].msg_len;
        if (kept != i) memmove(buf + (size_t)kept * stride, buf + (size_t)i * stride, len);
        lens[kept++] = len;
    }
    return kept;
}

int clab_packet_send_batch(int fd, int ifindex, const unsigned char *buf, const uint32_t *offsets,
                           const uint32_t *lens, int count) {
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex;
    to.sll_halen = 6;
    int total = 0;
    while (total < count) {
        int batch = count - total > 64 ? 64 : count - total;
        for (int i = 0; i < batch; i++) {
            iov[i].iov_base = (void *)(buf + offsets[total + i]);
            iov[i].iov_len = lens[total + i];
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &to;
            msgs[i].msg_hdr.msg_namelen = sizeof to;
        }
        int n = sendmmsg(fd, msgs, (unsigned)batch, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return total > 0 ? total : -errno;
        }
        total += n;
        if (n < batch) break;
    }
    return total;
}

int clab_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int clab_epoll_add(int epfd, int fd, uint64_t tag) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int clab_epoll_add_write_once(int epfd, int fd, uint64_t tag) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int clab_epoll_wait(int epfd, uint64_t *tags, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    for (;;) {
        int n = epoll_wait(epfd, events, max, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        for (int i = 0; i < n; i++) tags[i] = events[i].data.u64;
        return n;
    }
}

int clab_timerfd_create(void) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int clab_timerfd_set_absolute(int fd, int64_t ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (ns > 0) {
        spec.it_value.tv_sec = ns / 1000000000;
        spec.it_value.tv_nsec = ns % 1000000000;
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL) < 0 ? -errno : 0;
}

uint64_t clab_timerfd_read(int fd) {
    uint64_t count = 0;
    ssize_t n = read(fd, &count, sizeof count);
    return n == sizeof count ? count : 0;
}

int clab_set_timer_slack_ns(unsigned long ns) { return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0) < 0 ? -errno : 0; }

int64_t clab_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clab_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
