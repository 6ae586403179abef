// PACKET_MMAP (TPACKET_V2) rings on AF_PACKET sockets: frames are read in place from a receive ring
// the kernel fills, and sent by writing them into a transmit ring the kernel drains on one send().
// No recvmmsg/sendmmsg per batch, no copy into the caller's buffers, one syscall per burst sent.
//
// TPACKET_V2 rather than V3: V3 hands frames over a block at a time (when a block fills or its
// timer, at least 1 ms, expires), so a lone frame waits up to the timer; V2 wakes the reader per
// frame, which is what a middlebox that must add microseconds, not milliseconds, needs.
#ifndef CLAB_RING_H
#define CLAB_RING_H

#include <stddef.h>
#include <stdint.h>

/// AF_PACKET sockets bound to one interface: one with a receive ring (`fd`, to watch for input), one
/// with a transmit ring. Fields are the library's; read `fd` and the counters, pass the rest back.
struct clab_ring {
    int fd, tx_fd;
    int ifindex;
    /// Receive ring: `rx_count` slots of `frame_size` bytes; `rx_head` is the next slot to read.
    unsigned char *rx;
    uint32_t rx_count, rx_head;
    /// Transmit ring: `tx_count` slots; `tx_head` the next free one; `tx_queued` written, not yet kicked.
    unsigned char *tx;
    uint32_t tx_count, tx_head, tx_queued;
    /// The longest frame the transmit ring takes: a slot, or the interface's MTU with its headers.
    uint32_t tx_max;
    uint32_t frame_size;
    /// Frames larger than a slot: received whole from the socket's queue into `spill`
    /// (PACKET_COPY_THRESH), sent through `plain_fd`, a ring-less socket (a ring socket sends only
    /// from its ring), which also refuses frames longer than the MTU. Both made on first use.
    unsigned char *spill;
    int plain_fd;
    /// Frames the kernel dropped because the receive ring was full (PACKET_STATISTICS, accumulated).
    uint64_t rx_dropped;
    /// Frames that could not be sent: the transmit ring full, or the kernel refusing the frame.
    uint64_t tx_failed;
};

/// Options for `clab_ring_open`.
struct clab_ring_options {
    /// Slots in each ring (0: no such ring). Rounded up to whole 64 KiB blocks.
    uint32_t rx_frames, tx_frames;
    /// Bytes per slot, a power of two from 128 (0: 2048, room for a 1500-byte MTU frame). A slot
    /// carries 66 bytes of ring header before a received frame, 42 before one to send.
    uint32_t frame_size;
    /// EtherType to receive (host order; 0x0003 is ETH_P_ALL). Ignored without a receive ring.
    uint16_t protocol;
    /// Skip frames this host sends (PACKET_IGNORE_OUTGOING).
    int ignore_outgoing;
    /// Hand frames straight to the driver, skipping the qdisc (PACKET_QDISC_BYPASS). Packet taps on the
    /// interface (tcpdump) then do not see them.
    int qdisc_bypass;
};

/// Opens non-blocking, close-on-exec AF_PACKET/SOCK_RAW sockets on `ifname` with the rings asked for
/// (TPACKET_V2). Returns 0 or -errno; on error nothing stays open.
int clab_ring_open(const char *ifname, const struct clab_ring_options *options, struct clab_ring *ring);

/// Unmaps the rings and closes the sockets.
void clab_ring_close(struct clab_ring *ring);

/// The next received frame, or NULL when the ring is empty. `*len` gets its length; `*timestamp_ns`,
/// if not NULL, the kernel's arrival time (CLOCK_REALTIME). The bytes stay valid until
/// `clab_ring_rx_release`, which must follow every non-NULL return before the next call.
const unsigned char *clab_ring_rx_next(struct clab_ring *ring, uint32_t *len, int64_t *timestamp_ns);

/// Gives the frame last returned by `clab_ring_rx_next` back to the kernel.
void clab_ring_rx_release(struct clab_ring *ring);

/// Copies a frame into the transmit ring; the kernel is kicked every 64 frames (so the next hop starts
/// on a long burst) and when the ring is full. Frames larger than a slot go out at once through the
/// plain socket, after what is queued. Returns 0 or -errno; a failure is also counted in `tx_failed`
/// (as are the frames behind it in a refused burst).
int clab_ring_tx_enqueue(struct clab_ring *ring, const void *frame, uint32_t len);

/// Frames written into the transmit ring and not yet handed to the kernel.
uint32_t clab_ring_tx_pending(const struct clab_ring *ring);

/// Hands every queued frame to the kernel with one send(). Returns 0 or -errno.
int clab_ring_tx_flush(struct clab_ring *ring);

/// Reads the kernel's receive-drop count into `rx_dropped` (the kernel resets it on each read).
void clab_ring_update_stats(struct clab_ring *ring);

#endif
