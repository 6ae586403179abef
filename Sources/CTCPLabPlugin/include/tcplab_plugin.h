/*
 * tcplab_plugin.h — TCPLab policy plugins, C ABI version 1.
 *
 * A plugin is a shared library that swaps one policy of TCPLab's TCP engine: the ISN generator, the
 * accept-queue policy or the delayed-ACK policy. The engine is written in Swift, but plugins talk to it
 * through this header only, so a plugin can be written in C, in Rust, or in Swift with the
 * TCPLabPluginKit module (which fills these structs for you). docs/plugins.md is the guide.
 *
 * The contract, in short:
 *
 * 1. The library exports one symbol, `tcplab_plugin_v1`, a function with no arguments that returns a
 *    pointer to a `tcplab_plugin` descriptor. The descriptor and everything it points to (strings,
 *    parameter specs, the ops struct) must stay valid for as long as the library is loaded; TCPLab never
 *    unloads a plugin library.
 * 2. At load time TCPLab checks: `abi_version == TCPLAB_PLUGIN_ABI_VERSION`, `struct_size` at least
 *    `sizeof(tcplab_plugin)` of version 1, a known `kind`, a name made of [a-z0-9-] that is not `linux`,
 *    a summary, well-formed parameter specs whose defaults parse and lie within [min, max], non-NULL
 *    `create` and `destroy`, the ops struct of the plugin's kind non-NULL and every function pointer in
 *    it non-NULL, and the two other ops pointers NULL. Any failure is reported with the field to fix and
 *    the plugin is not used.
 * 3. For every policy instance (one per simulated or real host that names the plugin) TCPLab calls
 *    `create` once, with every declared parameter already parsed, type-checked and range-checked, and
 *    `destroy` once when the host goes away. Instances never share state through TCPLab.
 * 4. The engine calls an instance's functions on the thread that drives its host, one call at a time
 *    (never concurrently for one instance); different instances may run on different threads.
 *    Functions must return promptly, must not block, and must not call back into the engine.
 * 5. An answer outside the documented values (an unknown verdict, a child index outside the queue, a
 *    delayed-ACK deadline in the past or 500 ms or more ahead, a corrupted ACK state) is not used: the
 *    engine takes Linux's answer for that call instead and records a violation naming the plugin, the
 *    call and the answer.
 *
 * Conventions: IPv4 addresses and ports are in host byte order (198.18.0.1 is 0xC6120001); times are
 * nanoseconds since the start of the run (int64_t); "never" is INT64_MAX; booleans are 0 or 1 in int32_t
 * or uint8_t fields. Pointers passed to plugin functions are valid only for the duration of the call.
 */
#ifndef TCPLAB_PLUGIN_H
#define TCPLAB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes, and the entry point that carries it in its name. */
#define TCPLAB_PLUGIN_ABI_VERSION 1u
#define TCPLAB_PLUGIN_ENTRY_NAME "tcplab_plugin_v1"

/* Put this in front of the entry point when compiling with -fvisibility=hidden. */
#define TCPLAB_EXPORT __attribute__((visibility("default")))

/* What a plugin replaces (tcplab_plugin.kind). */
#define TCPLAB_KIND_ISN 1u
#define TCPLAB_KIND_ACCEPT_QUEUE 2u
#define TCPLAB_KIND_DELAYED_ACK 3u

/* tcplab_plugin.flags */
/* Accept-queue plugins: ask the engine to count SYN-queue requests per source address
 * (tcplab_syn.requests_from_source is 0 without it). */
#define TCPLAB_FLAG_PER_SOURCE_COUNTS 1u

/* ------------------------------------------------------------------------------------------------ */
/* Facts shared by every kind                                                                         */
/* ------------------------------------------------------------------------------------------------ */

/* A connection's identity seen from this host: local = us. */
typedef struct tcplab_tuple {
    uint32_t local_address;
    uint32_t remote_address;
    uint16_t local_port;
    uint16_t remote_port;
} tcplab_tuple;

/* ------------------------------------------------------------------------------------------------ */
/* ISN generator                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

/* Called once per active open (connect) and once per SYN that gets a request sock (not for a SYN
 * answered with a SYN cookie: the cookie is the ISN). Linux: tcp_v4_init_seq and tcp_v4_init_ts_off.
 * Every 32-bit answer is valid. */
typedef struct tcplab_isn_ops {
    /* The initial sequence number of the connection `tuple` at `now_ns`. */
    uint32_t (*initial_sequence_number)(void *instance, const tcplab_tuple *tuple, int64_t now_ns);
    /* The offset added to the millisecond clock in the TCP timestamp option (RFC 7323 §5.4).
     * Called once per connection, next to initial_sequence_number, and when a SYN cookie is validated. */
    uint32_t (*timestamp_offset)(void *instance, const tcplab_tuple *tuple, int64_t now_ns);
} tcplab_isn_ops;

/* ------------------------------------------------------------------------------------------------ */
/* Accept-queue policy                                                                                */
/* ------------------------------------------------------------------------------------------------ */

/* A listener at the moment of a decision (Linux's names in brackets). */
typedef struct tcplab_listener {
    int32_t syn_queue_length;    /* requests in the SYN queue [reqsk_queue_len] */
    int32_t young_count;         /* requests that never timed out [qlen_young] */
    int32_t accept_queue_length; /* children waiting for accept() [sk_ack_backlog] */
    int32_t backlog;             /* listen() backlog after the somaxconn clamp [sk_max_ack_backlog] */
    int32_t max_syn_backlog;     /* net.ipv4.tcp_max_syn_backlog */
    int32_t syncookies;          /* net.ipv4.tcp_syncookies: 0, 1 or 2 */
    int32_t abort_on_overflow;   /* net.ipv4.tcp_abort_on_overflow: 0 or 1 */
} tcplab_listener;

/* A SYN that reached a listener in LISTEN. */
typedef struct tcplab_syn {
    tcplab_tuple tuple;
    int64_t now_ns;
    int32_t reopens_time_wait;    /* the SYN reuses a TIME_WAIT connection (skips the SYN-queue check) */
    int32_t peer_is_proven;       /* the peer has a tcp_metrics entry (matters for tcp_max_syn_backlog) */
    int32_t requests_from_source; /* SYN-queue requests from this source address; needs
                                     TCPLAB_FLAG_PER_SOURCE_COUNTS, else 0 */
    int32_t reserved;
} tcplab_syn;

/* Answers of on_syn. 0 is never valid. */
#define TCPLAB_SYN_QUEUE 1u                     /* request sock + SYN-ACK */
#define TCPLAB_SYN_COOKIE 2u                    /* SYN-ACK with a SYN cookie, no state (needs syncookies != 0) */
#define TCPLAB_SYN_RESET 3u                     /* answer with RST (refuse the peer) */
#define TCPLAB_SYN_DROP 4u                      /* drop silently: "refused by accept-queue policy" */
#define TCPLAB_SYN_DROP_SYN_QUEUE_FULL 5u       /* drop, counted as Linux counts a full SYN queue */
#define TCPLAB_SYN_DROP_ACCEPT_QUEUE_FULL 6u    /* drop, counted as ListenOverflows */
#define TCPLAB_SYN_DROP_SYN_BACKLOG_RESERVE 7u  /* drop: the tcp_max_syn_backlog reserve */

/* Answers of on_accept_queue_full. 0 is never valid. */
#define TCPLAB_OVERFLOW_DROP_AND_KEEP 1u /* tcp_abort_on_overflow = 0: drop the ACK, keep the request */
#define TCPLAB_OVERFLOW_RESET 2u         /* tcp_abort_on_overflow = 1: RST, forget the request */

/* A child waiting in the accept queue. */
typedef struct tcplab_child {
    tcplab_tuple tuple;
    int64_t established_ns; /* when its handshake completed */
} tcplab_child;

typedef struct tcplab_accept_queue_ops {
    /* Once per SYN that reaches a listener in LISTEN (not for a retransmitted SYN that matches a
     * request sock). Returns a TCPLAB_SYN_* value. */
    uint32_t (*on_syn)(void *instance, const tcplab_syn *syn, const tcplab_listener *listener);
    /* Once per handshake-completing segment that finds the accept queue full. Returns a
     * TCPLAB_OVERFLOW_* value. */
    uint32_t (*on_accept_queue_full)(void *instance, const tcplab_tuple *tuple, const tcplab_listener *listener);
    /* Once per successful accept(): the index in `queue` (oldest first, count >= 1) of the child
     * accept() returns. Linux: 0. */
    int64_t (*select_child)(void *instance, const tcplab_child *queue, int64_t count);
} tcplab_accept_queue_ops;

/* ------------------------------------------------------------------------------------------------ */
/* Delayed-ACK policy                                                                                 */
/* ------------------------------------------------------------------------------------------------ */

/* Pending bits of tcplab_ack_state.pending (Linux's ICSK_ACK_*). */
#define TCPLAB_ACK_SCHEDULED 1u /* an ACK is owed */
#define TCPLAB_ACK_TIMER 2u     /* the delayed-ACK timer is armed (deadline_ns) */
#define TCPLAB_ACK_PUSHED 4u
#define TCPLAB_ACK_PUSHED2 8u
#define TCPLAB_ACK_NOW 16u      /* ACK at the next opportunity (a filled hole, RFC 5681 §4.2) */

/* Per-connection ACK state (Linux's icsk_ack and friends). The engine owns it; the plugin reads and
 * writes it in place during a call. After every call the engine checks: pending uses only the bits
 * above, rcv_mss >= 1, ato_ns >= 0. */
typedef struct tcplab_ack_state {
    int64_t ato_ns;          /* ACK timeout estimate, 0 until the first data arrives */
    int64_t deadline_ns;     /* when the delayed-ACK timer fires; INT64_MAX when not armed */
    int64_t last_receive_ns; /* when data last arrived [lrcvtime] */
    int64_t last_send_ns;    /* when data was last sent [lsndtime] */
    int32_t rcv_mss;         /* estimated peer MSS */
    int32_t last_segment_size;
    uint8_t pending;         /* TCPLAB_ACK_* bits */
    uint8_t quick;           /* remaining quick-ACK credit */
    uint8_t pingpong;        /* interactive mode while >= pingpong_threshold */
    uint8_t out_of_order_acks; /* immediate duplicate ACKs sent while out-of-order data is queued */
    uint32_t reserved;
} tcplab_ack_state;

/* What the engine knows about the connection when it asks. Read-only. */
typedef struct tcplab_ack_facts {
    int64_t now_ns;
    int64_t rto_ns;          /* current retransmission timeout */
    int64_t srtt_ns;         /* smoothed RTT, -1 when not measured yet */
    int64_t rto_min_ns;      /* tcp_rto_min */
    int64_t delack_max_ns;   /* cap on the delayed-ACK timer (icsk_delack_max, 200 ms) */
    int32_t receive_window;  /* our advertised receive window, bytes */
    int32_t advertised_mss;  /* our MSS */
    int32_t unacknowledged;  /* bytes received but not yet ACKed (rcv_nxt - rcv_wup) */
    int32_t pingpong_threshold;
    int32_t tcp_header_length; /* 20, or 32 with timestamps */
    uint8_t window_would_not_shrink;
    uint8_t has_out_of_order_data;
    uint8_t reserved[2];
} tcplab_ack_facts;

/* An in-order data segment as tcp_measure_rcv_mss sees it. */
typedef struct tcplab_received_data {
    int32_t length;        /* payload bytes */
    int32_t header_length; /* TCP header bytes */
    uint8_t push;
    uint8_t fin_urg_or_syn;
    uint8_t reserved[2];
} tcplab_received_data;

/* Why the third ACK of an active open might wait. */
typedef struct tcplab_third_ack {
    uint8_t write_pending; /* a writer is blocked waiting for the connection */
    uint8_t defer_accept;  /* TCP_DEFER_ACCEPT is set */
    uint8_t reserved[2];
} tcplab_third_ack;

/* Answers of ack_check and delay_third_ack. 0 is never valid. With TCPLAB_ACK_AT the plugin writes the
 * deadline to *deadline_ns: it must satisfy now_ns <= deadline < now_ns + 500 ms (RFC 1122 §4.2.3.2).
 * Linux also sets TCPLAB_ACK_SCHEDULED | TCPLAB_ACK_TIMER and deadline_ns in the state when it arms
 * the timer; do the same if you leave timer_fired to Linux. */
#define TCPLAB_ACK_DECISION_NONE 1u /* no ACK owed (a data segment already carried it) */
#define TCPLAB_ACK_DECISION_NOW 2u  /* ACK at once */
#define TCPLAB_ACK_DECISION_AT 3u   /* arm (or keep) the delayed-ACK timer for *deadline_ns */

/* The engine calls, on each event:
 *   in-order data arrived                  -> data_received, then ack_check
 *   out-of-order/old/out-of-window data     -> enter_quick_ack (and ack_check)
 *   the SYN-ACK of an active open arrived   -> delay_third_ack
 *   the delayed-ACK timer fired             -> timer_fired (nonzero: send the ACK now)
 *   we sent data                            -> data_sent; we sent any segment with ACK -> ack_sent
 *   TCP_QUICKACK was set to `value`         -> set_quick_ack */
typedef struct tcplab_delayed_ack_ops {
    void (*data_received)(void *instance, tcplab_ack_state *ack, const tcplab_received_data *data,
                          const tcplab_ack_facts *facts);
    uint32_t (*ack_check)(void *instance, tcplab_ack_state *ack, const tcplab_ack_facts *facts,
                          int64_t *deadline_ns);
    void (*enter_quick_ack)(void *instance, tcplab_ack_state *ack, int32_t credits, const tcplab_ack_facts *facts);
    uint32_t (*delay_third_ack)(void *instance, tcplab_ack_state *ack, const tcplab_third_ack *third,
                                const tcplab_ack_facts *facts, int64_t *deadline_ns);
    int32_t (*timer_fired)(void *instance, tcplab_ack_state *ack, const tcplab_ack_facts *facts);
    void (*data_sent)(void *instance, tcplab_ack_state *ack, const tcplab_ack_facts *facts);
    void (*ack_sent)(void *instance, tcplab_ack_state *ack, const tcplab_ack_facts *facts);
    void (*set_quick_ack)(void *instance, tcplab_ack_state *ack, int32_t value, const tcplab_ack_facts *facts);
} tcplab_delayed_ack_ops;

/* ------------------------------------------------------------------------------------------------ */
/* Parameters                                                                                         */
/* ------------------------------------------------------------------------------------------------ */

/* Parameter types, and how a topology writes them:
 *   INT          64000, -5                 integer in [min, max]
 *   BOOL         true / false / yes / no / 1 / 0
 *   STRING       any text
 *   DURATION     40ms, 250us, 1s, 1500ns   nanoseconds in [min, max]
 *   IPV4_PREFIX  198.18.5.0/24, 10.0.0.1 (= /32) */
#define TCPLAB_PARAM_INT 1u
#define TCPLAB_PARAM_BOOL 2u
#define TCPLAB_PARAM_STRING 3u
#define TCPLAB_PARAM_DURATION 4u
#define TCPLAB_PARAM_IPV4_PREFIX 5u

/* A parameter the plugin accepts. */
typedef struct tcplab_param_spec {
    const char *name;          /* [a-z0-9-], e.g. "per-second" */
    uint32_t type;             /* TCPLAB_PARAM_* */
    uint32_t reserved;
    const char *default_value; /* as a topology would write it; NULL: the parameter is required */
    int64_t min;               /* INT: bounds of the value; DURATION: bounds in ns; else ignored */
    int64_t max;
    const char *help;          /* one line for `tcplab plugins` */
} tcplab_param_spec;

/* A parsed parameter handed to create: values[i] belongs to params[i], every declared parameter is
 * present (defaults filled in), already type- and range-checked. */
typedef struct tcplab_param_value {
    const char *name;
    uint32_t type;
    uint32_t prefix_length; /* IPV4_PREFIX: 0..32 */
    int64_t integer;        /* INT: the value; BOOL: 0/1; DURATION: ns; IPV4_PREFIX: network address */
    const char *text;       /* the value as written (for STRING, the value) */
} tcplab_param_value;

/* ------------------------------------------------------------------------------------------------ */
/* What TCPLab gives a plugin instance                                                                */
/* ------------------------------------------------------------------------------------------------ */

/* Valid from create until destroy. `linux_*` are Linux's own implementations of every call, so a
 * plugin can change one decision and delegate the rest: pass `linux_instance` as their `instance`. */
typedef struct tcplab_host {
    uint32_t abi_version;
    uint32_t struct_size;
    void *context;
    /* Writes a line to the run's log, prefixed with the plugin's name. */
    void (*log)(void *context, const char *message);
    void *linux_instance;
    const tcplab_isn_ops *linux_isn;
    const tcplab_accept_queue_ops *linux_accept_queue;
    const tcplab_delayed_ack_ops *linux_delayed_ack;
} tcplab_host;

/* ------------------------------------------------------------------------------------------------ */
/* The descriptor                                                                                     */
/* ------------------------------------------------------------------------------------------------ */

typedef struct tcplab_plugin {
    uint32_t abi_version;  /* TCPLAB_PLUGIN_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(tcplab_plugin) */
    uint32_t kind;         /* TCPLAB_KIND_* */
    uint32_t flags;        /* TCPLAB_FLAG_* */
    const char *name;      /* what a topology writes: isn: { plugin: counter } */
    const char *summary;   /* one line for `tcplab plugins` */
    const tcplab_param_spec *params;
    uint32_t param_count;
    uint32_t reserved;
    /* Free for the plugin's own use (TCPLabPluginKit keeps the Swift type here). */
    void *plugin_data;
    /* Makes an instance. On success returns 0 and stores the instance (may be NULL for a stateless
     * plugin) in *instance; on failure returns nonzero and writes a NUL-terminated message of at most
     * error_capacity bytes (what is wrong and how to fix it) to error. */
    int32_t (*create)(const struct tcplab_plugin *plugin, const tcplab_host *host, const tcplab_param_value *values,
                      uint32_t count, void **instance, char *error, size_t error_capacity);
    void (*destroy)(void *instance);
    /* Exactly one of these is set: the one of `kind`. */
    const tcplab_isn_ops *isn;
    const tcplab_accept_queue_ops *accept_queue;
    const tcplab_delayed_ack_ops *delayed_ack;
} tcplab_plugin;

/* The type of the exported entry point. A C plugin defines:
 *     TCPLAB_EXPORT const tcplab_plugin *tcplab_plugin_v1(void) { return &my_plugin; } */
typedef const tcplab_plugin *(*tcplab_plugin_entry)(void);

#ifdef __cplusplus
}
#endif

#endif /* TCPLAB_PLUGIN_H */
