#define _GNU_SOURCE
#include "clab_ring.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_QDISC_BYPASS
#define PACKET_QDISC_BYPASS 20
#endif
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/// By default a slot holds a 1500-byte MTU frame (plus a VLAN tag) after the 66 bytes of ring header;
/// larger frames take the slow road (the socket's queue in, the plain socket out).
enum { DEFAULT_FRAME_SIZE = 2048, MIN_FRAME_SIZE = 128, BLOCK_SIZE = 1 << 16 };
/// Where a transmit slot's virtio_net_hdr starts (no PACKET_TX_HAS_OFF: right after the tpacket2_hdr),
/// and the frame after it.
enum { TX_VNET_OFFSET = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) };
enum { TX_DATA_OFFSET = TX_VNET_OFFSET + sizeof(struct virtio_net_hdr) };
/// Room for one oversized frame: a GSO frame from a kernel stack is at most 64 KiB.
enum { SPILL_SIZE = 65536 + 1024 };
/// Kick the kernel after this many queued frames even in the middle of a burst, so the next hop
/// starts working while the rest is written.
enum { TX_KICK = 64 };
/// A transmit slot's hdr_len that marks its frame dropped (longer than any slot).
#define DROPPED htole16(0xffff)

static struct tpacket2_hdr *slot(const struct clab_ring *r, unsigned char *ring, uint32_t i) {
    return (struct tpacket2_hdr *)(ring + (size_t)i * r->frame_size);
}

static uint32_t load_status(struct tpacket2_hdr *h) { return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE); }

static void store_status(struct tpacket2_hdr *h, uint32_t status) { __atomic_store_n(&h->tp_status, status, __ATOMIC_RELEASE); }

static uint32_t per_block(const struct clab_ring *r) { return BLOCK_SIZE / r->frame_size; }

static uint32_t whole_blocks(const struct clab_ring *r, uint32_t frames) { return (frames + per_block(r) - 1) / per_block(r); }

static int set_ring(const struct clab_ring *r, int fd, int which, uint32_t blocks) {
    struct tpacket_req req = {
        .tp_block_size = BLOCK_SIZE,
        .tp_block_nr = blocks,
        .tp_frame_size = r->frame_size,
        .tp_frame_nr = blocks * per_block(r),
    };
    return setsockopt(fd, SOL_PACKET, which, &req, sizeof req);
}

/// Maps `blocks` blocks of the ring just set up on `fd` (a socket maps its receive ring first, then
/// its transmit ring; each of ours has one).
static unsigned char *map_ring(int fd, uint32_t blocks) {
    void *map = mmap(NULL, (size_t)blocks * BLOCK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    return map == MAP_FAILED ? NULL : map;
}

static int open_receiver(struct clab_ring *r, const struct clab_ring_options *o, uint32_t blocks) {
    // Protocol 0 until bound: no frame from any interface reaches the socket before its ring exists.
    int fd = r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1, version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return -1;
    // Frames larger than a slot are also queued whole on the socket (TP_STATUS_COPY in the slot);
    // a large buffer keeps a burst of them (GSO frames from a kernel stack) from being cut.
    (void)setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof one);
    int size = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    if (set_ring(r, fd, PACKET_RX_RING, blocks) < 0 || !(r->rx = map_ring(fd, blocks))) return -1;
    r->rx_count = blocks * per_block(r);
    // Best effort (Linux 4.20+); clab_ring_rx_next also skips PACKET_OUTGOING.
    if (o->ignore_outgoing) (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(o->protocol);
    addr.sll_ifindex = r->ifindex;
    return bind(fd, (struct sockaddr *)&addr, sizeof addr);
}

/// The transmit ring has a socket of its own: each slot starts with a virtio_net_hdr whose hdr_len
/// covers the whole frame, so the kernel copies the frame into the skb instead of pointing the skb at
/// the ring's page — which a veth would otherwise copy again into a freshly allocated page
/// (skb_copy_ubufs), because the slot is reused as soon as the skb leaves the socket. On the receive
/// socket the same option would prefix every received frame with a header too.
static int open_sender(struct clab_ring *r, const struct clab_ring_options *o, uint32_t blocks) {
    int fd = r->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1, version = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return -1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) return -1;
    // A frame the kernel will not send is skipped, not left blocking the ring.
    if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) < 0) return -1;
    if (o->qdisc_bypass) (void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    // Frames in flight count against the send buffer; a ring's worth must fit.
    int size = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    if (set_ring(r, fd, PACKET_TX_RING, blocks) < 0 || !(r->tx = map_ring(fd, blocks))) return -1;
    r->tx_count = blocks * per_block(r);
    // With a virtio_net_hdr the kernel no longer caps a ring frame at the MTU (the veth would drop it
    // and fail the burst), so longer frames go to the plain socket, which refuses them cleanly.
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (!if_indextoname((unsigned)r->ifindex, ifr.ifr_name) || ioctl(fd, SIOCGIFMTU, &ifr) < 0) return -1;
    uint32_t longest = (uint32_t)ifr.ifr_mtu + ETH_HLEN + 4 /* a VLAN tag */;
    r->tx_max = longest < r->frame_size - TX_DATA_OFFSET ? longest : r->frame_size - TX_DATA_OFFSET;
    // Bound to the interface with protocol 0: send() needs no address, and the socket receives nothing.
    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = r->ifindex;
    return bind(fd, (struct sockaddr *)&addr, sizeof addr);
}

int clab_ring_open(const char *ifname, const struct clab_ring_options *o, struct clab_ring *r) {
    memset(r, 0, sizeof *r);
    r->fd = r->tx_fd = r->plain_fd = -1;
    uint32_t size = o->frame_size ? o->frame_size : DEFAULT_FRAME_SIZE;
    // A power of two, so slots tile the blocks exactly.
    if (size < MIN_FRAME_SIZE || size > BLOCK_SIZE || (size & (size - 1))) return -EINVAL;
    r->frame_size = size;
    r->ifindex = (int)if_nametoindex(ifname);
    if (r->ifindex == 0) return -errno;
    uint32_t rx_blocks = whole_blocks(r, o->rx_frames), tx_blocks = whole_blocks(r, o->tx_frames);
    if ((rx_blocks && open_receiver(r, o, rx_blocks) < 0) || (tx_blocks && open_sender(r, o, tx_blocks) < 0)) {
        int err = errno;
        clab_ring_close(r);
        return -err;
    }
    return 0;
}

void clab_ring_close(struct clab_ring *r) {
    if (r->rx) munmap(r->rx, (size_t)r->rx_count * r->frame_size);
    if (r->tx) munmap(r->tx, (size_t)r->tx_count * r->frame_size);
    if (r->fd >= 0) close(r->fd);
    if (r->tx_fd >= 0) close(r->tx_fd);
    if (r->plain_fd >= 0) close(r->plain_fd);
    free(r->spill);
    r->rx = r->tx = r->spill = NULL;
    r->fd = r->tx_fd = r->plain_fd = -1;
}

/// Reads the whole of an oversized frame from the socket's queue into `spill`; 0 if it is not there.
/// Without a buffer the frame still leaves the queue (no bytes, MSG_TRUNC), so the queue stays in step
/// with the ring's TP_STATUS_COPY slots.
static uint32_t receive_spilled(struct clab_ring *r) {
    if (!r->spill) r->spill = malloc(SPILL_SIZE);
    size_t room = r->spill ? SPILL_SIZE : 0;
    for (;;) {
        ssize_t n = recv(r->fd, r->spill, room, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || room == 0) return 0;
        return n > SPILL_SIZE ? SPILL_SIZE : (uint32_t)n;
    }
}

const unsigned char *clab_ring_rx_next(struct clab_ring *r, uint32_t *len, int64_t *timestamp_ns) {
    if (!r->rx) return NULL;
    // Bounded: at most one pass over the ring, skipping this host's own frames.
    for (uint32_t seen = 0; seen < r->rx_count; seen++) {
        struct tpacket2_hdr *h = slot(r, r->rx, r->rx_head);
        uint32_t status = load_status(h);
        if (!(status & TP_STATUS_USER)) return NULL;
        const struct sockaddr_ll *from = (const void *)((unsigned char *)h + TPACKET_ALIGN(sizeof *h));
        const unsigned char *data = (unsigned char *)h + h->tp_mac;
        uint32_t n = h->tp_snaplen;
        // The slot holds the first bytes only; the whole frame waits in the socket's queue, in order.
        // (Were that queue full too, the first bytes are all there is: the frame arrives cut.)
        if (status & TP_STATUS_COPY) {
            uint32_t whole = receive_spilled(r);
            if (whole) {
                data = r->spill;
                n = whole;
            }
        }
        if (from->sll_pkttype == PACKET_OUTGOING) {
            clab_ring_rx_release(r);
            continue;
        }
        *len = n;
        if (timestamp_ns) *timestamp_ns = (int64_t)h->tp_sec * 1000000000 + h->tp_nsec;
        return data;
    }
    return NULL;
}

void clab_ring_rx_release(struct clab_ring *r) {
    store_status(slot(r, r->rx, r->rx_head), TP_STATUS_KERNEL);
    if (++r->rx_head == r->rx_count) r->rx_head = 0;
}

/// Sends one frame too large for a slot through a ring-less socket (a ring socket sends only from
/// its ring), after everything already queued so the order holds.
static int send_plain(struct clab_ring *r, const void *frame, uint32_t len) {
    (void)clab_ring_tx_flush(r);
    if (r->plain_fd < 0) {
        // Protocol 0: it never receives.
        r->plain_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (r->plain_fd < 0) {
            r->tx_failed++;
            return -errno;
        }
    }
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = r->ifindex;
    to.sll_halen = 6;
    ssize_t n;
    do { n = sendto(r->plain_fd, frame, len, 0, (struct sockaddr *)&to, sizeof to); } while (n < 0 && errno == EINTR);
    if (n < 0) {
        r->tx_failed++;
        return -errno;
    }
    return 0;
}

int clab_ring_tx_enqueue(struct clab_ring *r, const void *frame, uint32_t len) {
    if (!r->tx) return -EINVAL;
    if (len > r->tx_max) return send_plain(r, frame, len);
    struct tpacket2_hdr *h = slot(r, r->tx, r->tx_head);
    if (load_status(h) != TP_STATUS_AVAILABLE) {
        // The ring is full of frames not yet handed over (or, on a real NIC, not yet sent).
        (void)clab_ring_tx_flush(r);
        if (load_status(h) != TP_STATUS_AVAILABLE) {
            r->tx_failed++;
            return -ENOBUFS;
        }
    }
    struct virtio_net_hdr *vnet = (struct virtio_net_hdr *)((unsigned char *)h + TX_VNET_OFFSET);
    memset(vnet, 0, sizeof *vnet);
    vnet->hdr_len = htole16((uint16_t)len);  // copy it all (see open_sender); no GSO, no checksum to do
    memcpy((unsigned char *)h + TX_DATA_OFFSET, frame, len);
    h->tp_len = len + sizeof *vnet;
    store_status(h, TP_STATUS_SEND_REQUEST);
    if (++r->tx_head == r->tx_count) r->tx_head = 0;
    if (++r->tx_queued >= TX_KICK) return clab_ring_tx_flush(r);
    return 0;
}

uint32_t clab_ring_tx_pending(const struct clab_ring *r) { return r->tx_queued; }

/// After a failed send the kernel keeps the refused frame and those behind it, to retry them on the
/// next send. A middlebox must not deliver stale frames later (a link that was down), so, as a
/// refused sendmmsg would, the rest of the burst is dropped and counted: each waiting frame gets a
/// header the kernel rejects (hdr_len beyond the frame), and PACKET_LOSS makes it skip them
/// silently on the next send, its position in the ring moving on in step with ours.
static void drop_unsent(struct clab_ring *r) {
    uint32_t i = r->tx_head;
    for (uint32_t n = 0; n < r->tx_count; n++) {
        i = i == 0 ? r->tx_count - 1 : i - 1;
        struct tpacket2_hdr *h = slot(r, r->tx, i);
        struct virtio_net_hdr *vnet = (struct virtio_net_hdr *)((unsigned char *)h + TX_VNET_OFFSET);
        if (load_status(h) != TP_STATUS_SEND_REQUEST || vnet->hdr_len == DROPPED) break;
        vnet->hdr_len = DROPPED;
        r->tx_failed++;
    }
}

int clab_ring_tx_flush(struct clab_ring *r) {
    if (!r->tx || r->tx_queued == 0) return 0;
    r->tx_queued = 0;
    for (;;) {
        // No address: the frames go out of the interface the socket is bound to.
        ssize_t n = send(r->tx_fd, NULL, 0, MSG_DONTWAIT);
        if (n >= 0) return 0;
        if (errno == EINTR) continue;
        int err = errno;
        drop_unsent(r);
        return -err;
    }
}

void clab_ring_update_stats(struct clab_ring *r) {
    if (r->fd < 0) return;
    struct tpacket_stats stats;
    socklen_t size = sizeof stats;
    if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &stats, &size) == 0) r->rx_dropped += stats.tp_drops;
}
