// libnl-3 and libnl-route-3 for LabNetlink, found through pkg-config (libnl-route-3.0).
//
// The static inline helpers below exist for what Swift cannot reach directly: macros and flags that
// collide between <linux/if.h> and glibc's <net/if.h>, and an error callback that keeps the kernel's
// errno and extended-ACK message, which libnl's own return codes (NLE_*) flatten away.
#ifndef TCPLAB_CNETLINK_SHIM_H
#define TCPLAB_CNETLINK_SHIM_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/if.h>
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/handlers.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/addr.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/// What the kernel said about the last failed request: its errno and, when the kernel sent one, the
/// extended-ACK text (for example "Invalid MTU", "Peer netns reference is invalid").
typedef struct cnl_error_context {
    int error;
    char message[256];
} cnl_error_context;

static inline int cnl_record_error(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg) {
    (void)nla;
    cnl_error_context *context = (cnl_error_context *)arg;
    context->error = -err->error;
    context->message[0] = 0;
    // With NETLINK_CAP_ACK the request is not echoed back, so the extended-ACK attributes follow
    // the nlmsgerr directly (NLM_F_CAPPED | NLM_F_ACK_TLVS on the enclosing header).
    struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)err - NLMSG_HDRLEN);
    if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return NL_STOP;
    size_t offset = NLMSG_HDRLEN + sizeof(*err);
    if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
    if (hdr->nlmsg_len <= offset) return NL_STOP;
    struct nlattr *attrs = (struct nlattr *)((char *)hdr + NLMSG_ALIGN(offset));
    int remaining = (int)(hdr->nlmsg_len - NLMSG_ALIGN(offset));
    struct nlattr *attr;
    int rem;
    nla_for_each_attr(attr, attrs, remaining, rem) {
        if (nla_type(attr) == NLMSGERR_ATTR_MSG) {
            nla_strlcpy(context->message, attr, sizeof(context->message));
            break;
        }
    }
    return NL_STOP;
}

/// Opens a NETLINK_ROUTE socket in the calling thread's network namespace, with extended ACKs and
/// the error callback above. Returns NULL and sets *error (a negative NLE_* code) on failure.
static inline struct nl_sock *cnl_route_socket(cnl_error_context *context, int *error) {
    struct nl_sock *sock = nl_socket_alloc();
    if (!sock) { *error = -NLE_NOMEM; return NULL; }
    int err = nl_connect(sock, NETLINK_ROUTE);
    if (err < 0) { nl_socket_free(sock); *error = err; return NULL; }
    int one = 1;
    (void)setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    (void)setsockopt(nl_socket_get_fd(sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, cnl_record_error, context);
    *error = 0;
    return sock;
}

static inline void cnl_link_set_up(struct rtnl_link *link) { rtnl_link_set_flags(link, IFF_UP); }
static inline void cnl_link_set_down(struct rtnl_link *link) { rtnl_link_unset_flags(link, IFF_UP); }
static inline int cnl_link_is_up(struct rtnl_link *link) { return (rtnl_link_get_flags(link) & IFF_UP) != 0; }
static inline int cnl_link_is_lower_up(struct rtnl_link *link) { return (rtnl_link_get_flags(link) & IFF_LOWER_UP) != 0; }

/// A MAC address as libnl wants it for IFLA_ADDRESS (family AF_LLC, six bytes).
static inline struct nl_addr *cnl_mac_address(const unsigned char *bytes) { return nl_addr_build(AF_LLC, bytes, 6); }

static inline int cnl_flags_create_exclusive(void) { return NLM_F_CREATE | NLM_F_EXCL; }

#endif
