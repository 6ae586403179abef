// tcplab-kload: load generators for the lab benchmarks, in C so the Linux kernel is measured, not
// the load generator. Each mode joins a named network namespace first (setns), then:
//   server NS ADDR PORT SECONDS          accept and close every connection (the server closes first)
//   client NS ADDR PORT INFLIGHT SECONDS keep INFLIGHT connects going; on EOF close; print the rate
//   blast  NS IFNAME COUNT RATE           send COUNT timestamped frames (RATE frames/s, 0 = as fast as possible)
//   sink   NS IFNAME SECONDS              count blasted frames, print rate and latency percentiles
// Every loop is bounded by its SECONDS or COUNT.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
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

static struct sockaddr_in inet(const char *addr, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &a.sin_addr);
    return a;
}

static int server(const char *addr, int port, double seconds) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = inet(addr, port);
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4096) < 0) {
        fprintf(stderr, "server: %s\n", strerror(errno));
        return 3;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    printf("ready\n");
    fflush(stdout);
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    long accepted = 0;
    while (now_ns() < end) {
        struct epoll_event events[16];
        int n = epoll_wait(ep, events, 16, 100);
        for (int i = 0; i < n; i++) {
            for (;;) {
                int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0) break;
                accepted++;
                close(c);
            }
        }
    }
    printf("accepted %ld\n", accepted);
    return 0;
}

static int client(const char *addr, int port, int inflight, double seconds) {
    int ep = epoll_create1(0);
    struct sockaddr_in a = inet(addr, port);
    long done = 0, failed = 0;
    int open_now = 0;
    int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
    for (;;) {
        int64_t t = now_ns();
        while (t < end && open_now < inflight) {
            int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (s < 0) break;
            int rc = connect(s, (struct sockaddr *)&a, sizeof a);
            if (rc < 0 && errno != EINPROGRESS) { close(s); failed++; break; }
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = s};
            epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
            open_now++;
        }
        if (open_now == 0 && t >= end) break;
        if (t >= end + 2000000000LL) break;  // bounded: give stragglers 2 s
        struct epoll_event events[64];
        int n = epoll_wait(ep, events, 64, 100);
        for (int i = 0; i < n; i++) {
            int s = events[i].data.fd;
            char buf[64];
            ssize_t r = read(s, buf, sizeof buf);
            if (r == 0) done++;  // the server closed: a full connect-accept-close
            else if (r < 0 && errno == EAGAIN) continue;
            else failed++;
            epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
            close(s);
            open_now--;
        }
    }
    double elapsed = (now_ns() - start) / 1e9;
    printf("handshakes %ld failed %ld seconds %.3f rate %.1f\n", done, failed, elapsed, done / (elapsed > 0 ? elapsed : 1));
    return 0;
}

// A blasted frame: Ethernet (dst, src, EtherType 0x88b5 local experimental), a magic, a sequence
// number and the send time.
#define BLAST_TYPE 0x88b5
#define FRAME_LEN 64

static int packet_socket(const char *ifname, int *index) {
    *index = (int)if_nametoindex(ifname);
    int fd = socket(AF_PACKET, SOCK_RAW, htons(BLAST_TYPE));
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(BLAST_TYPE);
    sll.sll_ifindex = *index;
    if (fd < 0 || *index == 0 || bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        fprintf(stderr, "packet socket on %s: %s\n", ifname, strerror(errno));
        exit(3);
    }
    int size = 16 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    return fd;
}

static int blast(const char *ifname, long count, long rate) {
    int index;
    int fd = packet_socket(ifname, &index);
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = index;
    to.sll_halen = 6;
    unsigned char frames[64][FRAME_LEN];
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    int64_t start = now_ns();
    long sent = 0;
    while (sent < count) {
        // Paced runs send one frame at a time (a latency probe); unpaced ones batch 64 per sendmmsg.
        int batch = rate > 0 ? 1 : (count - sent < 64 ? (int)(count - sent) : 64);
        if (rate > 0) {
            // Paced: sleep rather than spin, so the middlebox and the sink keep their CPU.
            int64_t due = start + (int64_t)((double)sent * 1e9 / rate);
            int64_t wait = due - now_ns();
            if (wait > 0) {
                struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
        for (int i = 0; i < batch; i++) {
            unsigned char *f = frames[i];
            memset(f, 0, FRAME_LEN);
            memset(f, 0xff, 6);
            f[6] = 0x02; f[11] = 0x99;
            f[12] = BLAST_TYPE >> 8; f[13] = BLAST_TYPE & 0xff;
            int64_t t = now_ns();
            long seq = sent + i;
            memcpy(f + 14, "TLAB", 4);
            memcpy(f + 18, &seq, sizeof seq);
            memcpy(f + 26, &t, sizeof t);
            iov[i].iov_base = f;
            iov[i].iov_len = FRAME_LEN;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &to;
            msgs[i].msg_hdr.msg_namelen = sizeof to;
        }
        int n = sendmmsg(fd, msgs, batch, 0);
        if (n < 0) {
            if (errno == ENOBUFS || errno == EAGAIN) continue;
            fprintf(stderr, "sendmmsg: %s\n", strerror(errno));
            return 3;
        }
        sent += n;
    }
    double elapsed = (now_ns() - start) / 1e9;
    printf("sent %ld seconds %.3f rate %.1f\n", sent, elapsed, sent / elapsed);
    return 0;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int sink(const char *ifname, double seconds) {
    int index;
    int fd = packet_socket(ifname, &index);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    printf("ready\n");
    fflush(stdout);
    size_t cap = 1 << 22, n_lat = 0;
    int64_t *lat = malloc(cap * sizeof *lat);
    unsigned char bufs[64][256];
    struct mmsghdr msgs[64];
    struct iovec iov[64];
    int64_t end = now_ns() + (int64_t)(seconds * 1e9), first = 0, last = 0;
    long got = 0;
    while (now_ns() < end) {
        for (int i = 0; i < 64; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof bufs[i];
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, 64, MSG_WAITFORONE, NULL);
        int64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_len < 34 || memcmp(bufs[i] + 14, "TLAB", 4) != 0) continue;
            int64_t sent;
            memcpy(&sent, bufs[i] + 26, sizeof sent);
            if (!first) first = t;
            last = t;
            got++;
            if (n_lat < cap) lat[n_lat++] = t - sent;
        }
    }
    qsort(lat, n_lat, sizeof *lat, cmp);
    double span = (last - first) / 1e9;
    printf("received %ld rate %.1f p50_us %.1f p99_us %.1f\n", got, span > 0 ? got / span : 0,
           n_lat ? lat[n_lat / 2] / 1e3 : 0, n_lat ? lat[n_lat * 99 / 100] / 1e3 : 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: tcplab-kload server|client|blast|sink NAMESPACE ...\n");
        return 2;
    }
    join(argv[2]);
    if (!strcmp(argv[1], "server") && argc == 6) return server(argv[3], atoi(argv[4]), atof(argv[5]));
    if (!strcmp(argv[1], "client") && argc == 7) return client(argv[3], atoi(argv[4]), atoi(argv[5]), atof(argv[6]));
    if (!strcmp(argv[1], "blast") && argc == 6) return blast(argv[3], atol(argv[4]), atol(argv[5]));
    if (!strcmp(argv[1], "sink") && argc == 5) return sink(argv[3], atof(argv[4]));
    fprintf(stderr, "tcplab-kload: bad arguments\n");
    return 2;
}
