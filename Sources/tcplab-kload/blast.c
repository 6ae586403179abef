// `blast`: timestamped frames written into a PACKET_MMAP transmit ring, 64 per send() when unpaced,
// so the load generator costs little per frame and the figure is the middlebox's, not its own.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "blast_frame.h"
#include "clab_ring.h"
#include "kload.h"

static int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int blast(const char *ifname, long count, long rate) {
    // Small slots (the frames are 64 bytes) keep the ring in the cache. No qdisc: a veth has none to
    // speak of, and nobody taps the load generator.
    struct clab_ring ring;
    struct clab_ring_options o = {.tx_frames = 1024, .frame_size = 128, .qdisc_bypass = 1};
    int rc = clab_ring_open(ifname, &o, &ring);
    if (rc < 0) {
        fprintf(stderr, "packet ring on %s: %s\n", ifname, strerror(-rc));
        return 3;
    }
    unsigned char f[FRAME_LEN];
    memset(f, 0, sizeof f);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[11] = 0x99;
    f[12] = BLAST_TYPE >> 8;
    f[13] = BLAST_TYPE & 0xff;
    memcpy(f + MAGIC_AT, "TLAB", 4);
    int64_t start = now_ns();
    long queued = 0;
    while (queued < count) {
        // Paced runs send one frame at a time (a latency probe); unpaced ones a burst of 64 per send.
        long batch = rate > 0 ? 1 : (count - queued < 64 ? count - queued : 64);
        if (rate > 0) {
            // Sleep rather than spin, so the middlebox and the sink keep their CPU. The default timer
            // slack (50 µs) is kept: exact pacing would cost a wake-up per frame, each dearer than the
            // frame itself on a small VM, and the probe would crowd the CPUs it measures.
            int64_t wait = start + (int64_t)((double)queued * 1e9 / rate) - now_ns();
            if (wait > 0) {
                struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
                nanosleep(&ts, NULL);
            }
        }
        for (long i = 0; i < batch; i++) {
            long seq = queued + i;
            int64_t mono = now_ns(), real = realtime_ns();
            memcpy(f + SEQ_AT, &seq, sizeof seq);
            memcpy(f + MONO_AT, &mono, sizeof mono);
            memcpy(f + REAL_AT, &real, sizeof real);
            // A full ring or a refused frame is counted in tx_failed; the loop still ends at COUNT.
            (void)clab_ring_tx_enqueue(&ring, f, FRAME_LEN);
        }
        (void)clab_ring_tx_flush(&ring);
        queued += batch;
    }
    double elapsed = (now_ns() - start) / 1e9;
    long sent = queued - (long)ring.tx_failed;
    printf("sent %ld failed %llu seconds %.3f rate %.1f\n", sent, (unsigned long long)ring.tx_failed, elapsed, sent / elapsed);
    clab_ring_close(&ring);
    return 0;
}
