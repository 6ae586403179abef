// TCP load against the kernel: a server that accepts and closes, a client that keeps connects in flight.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kload.h"

static struct sockaddr_in inet(const char *addr, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &a.sin_addr);
    return a;
}

int tcp_server(const char *addr, int port, double seconds) {
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

int tcp_client(const char *addr, int port, int inflight, double seconds) {
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
