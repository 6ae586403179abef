// `sink`: counts blasted frames and their latency, from a PACKET_MMAP receive ring. Two rings:
//  - per frame (TPACKET_V2, CLabIO's ring): woken for every frame, so the latency at read time is what
//    a receiving application would see; for the latency runs;
//  - blocks (TPACKET_V3): woken once per filled block (or per millisecond), far fewer wake-ups and
//    cache misses per frame, so the sink does not eat the CPU the middlebox needs; for the rate runs.
//    The read time then says when the block closed, so only the arrival latency is printed.
// The arrival latency uses the kernel's stamp for when the frame reached the sink's socket, so the
// sink's own wake-up is not in it: it is the path's latency alone.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blast_frame.h"
#include "clab_ring.h"
#include "kload.h"

/// What the sink saw: frames, the first and last read times, the latencies (ns).
struct tally {
    long got;
    int64_t first, last;
    size_t n, cap;
    int64_t *read, *arrive;
};

static void count_frame(struct tally *t, const unsigned char *f, uint32_t len, int64_t read_at, int64_t arrived_at) {
    if (len < HEADER_END || memcmp(f + MAGIC_AT, "TLAB", 4) != 0) return;
    int64_t mono, real;
    memcpy(&mono, f + MONO_AT, sizeof mono);
    memcpy(&real, f + REAL_AT, sizeof real);
    if (!t->first) t->first = read_at;
    t->last = read_at;
    t->got++;
    if (t->n < t->cap) {
        t->read[t->n] = read_at - mono;
        t->arrive[t->n++] = arrived_at - real;
    }
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(const int64_t *v, size_t n, int p) { return n ? v[n * (size_t)p / 100] / 1e3 : 0; }

static void report(struct tally *t, int with_read, uint64_t drops) {
    qsort(t->read, t->n, sizeof *t->read, cmp);
    qsort(t->arrive, t->n, sizeof *t->arrive, cmp);
    double span = (t->last - t->first) / 1e9;
    printf("received %ld rate %.1f", t->got, span > 0 ? t->got / span : 0);
    if (with_read) printf(" p50_us %.1f p99_us %.1f", percentile_us(t->read, t->n, 50), percentile_us(t->read, t->n, 99));
    printf(" arrive_p50_us %.1f arrive_p99_us %.1f ring_drops %llu\n", percentile_us(t->arrive, t->n, 50),
           percentile_us(t->arrive, t->n, 99), (unsigned long long)drops);
}

static int sink_per_frame(const char *ifname, int64_t end, struct tally *t) {
    struct clab_ring ring;
    struct clab_ring_options o = {.rx_frames = 8192, .frame_size = 256, .protocol = BLAST_TYPE, .ignore_outgoing = 1};
    int rc = clab_ring_open(ifname, &o, &ring);
    if (rc < 0) {
        fprintf(stderr, "packet ring on %s: %s\n", ifname, strerror(-rc));
        return 3;
    }
    printf("ready\n");
    fflush(stdout);
    while (now_ns() < end) {
        struct pollfd p = {.fd = ring.fd, .events = POLLIN};
        (void)poll(&p, 1, 100);
        int64_t read_at = now_ns();
        uint32_t len;
        int64_t stamp;
        const unsigned char *f;
        // Bounded: a ring's worth per wake-up, then the clock is checked again.
        for (uint32_t i = 0; i < ring.rx_count && (f = clab_ring_rx_next(&ring, &len, &stamp)); i++) {
            count_frame(t, f, len, read_at, stamp);
            clab_ring_rx_release(&ring);
        }
    }
    clab_ring_update_stats(&ring);
    report(t, 1, ring.rx_dropped);
    clab_ring_close(&ring);
    return 0;
}

/// 32 blocks of 64 KiB: about 500 blasted frames a block, 16,000 in the ring; a block is handed over
/// when full or after 1 ms.
enum { BLOCK_SIZE = 1 << 16, BLOCKS = 32 };

static int open_blocks(const char *ifname, unsigned char **map) {
    int index = (int)if_nametoindex(ifname);
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    int version = TPACKET_V3;
    struct tpacket_req3 req = {.tp_block_size = BLOCK_SIZE, .tp_block_nr = BLOCKS, .tp_frame_size = 2048,
                               .tp_frame_nr = BLOCK_SIZE / 2048 * BLOCKS, .tp_retire_blk_tov = 1};
    struct sockaddr_ll addr = {.sll_family = AF_PACKET, .sll_protocol = htons(BLAST_TYPE), .sll_ifindex = index};
    if (index == 0 || fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0 ||
        (*map = mmap(NULL, (size_t)BLOCK_SIZE * BLOCKS, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "block ring on %s: %s\n", ifname, strerror(errno));
        return -1;
    }
    return fd;
}

static int sink_blocks(const char *ifname, int64_t end, struct tally *t) {
    unsigned char *map;
    int fd = open_blocks(ifname, &map);
    if (fd < 0) return 3;
    printf("ready\n");
    fflush(stdout);
    unsigned block = 0;
    while (now_ns() < end) {
        struct tpacket_block_desc *b = (struct tpacket_block_desc *)(map + (size_t)block * BLOCK_SIZE);
        if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            (void)poll(&p, 1, 100);
            continue;
        }
        int64_t read_at = now_ns();
        const unsigned char *h = (const unsigned char *)b + b->hdr.bh1.offset_to_first_pkt;
        for (uint32_t i = 0; i < b->hdr.bh1.num_pkts; i++) {
            const struct tpacket3_hdr *p = (const struct tpacket3_hdr *)h;
            count_frame(t, h + p->tp_mac, p->tp_snaplen, read_at, (int64_t)p->tp_sec * 1000000000 + p->tp_nsec);
            h += p->tp_next_offset;
        }
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        block = (block + 1) % BLOCKS;
    }
    struct tpacket_stats_v3 stats = {0};
    socklen_t size = sizeof stats;
    (void)getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &size);
    report(t, 0, stats.tp_drops);
    munmap(map, (size_t)BLOCK_SIZE * BLOCKS);
    close(fd);
    return 0;
}

int sink(const char *ifname, double seconds, int blocks) {
    struct tally t = {.cap = 1 << 22};
    t.read = malloc(t.cap * sizeof *t.read);
    t.arrive = malloc(t.cap * sizeof *t.arrive);
    if (!t.read || !t.arrive) return 3;
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    return blocks ? sink_blocks(ifname, end, &t) : sink_per_frame(ifname, end, &t);
}
