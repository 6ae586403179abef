#define _GNU_SOURCE
#include "CLabSys.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

static int result(int rc) { return rc < 0 ? -errno : rc; }

int clab_setns(int fd, int nstype) { return result(setns(fd, nstype)); }
int clab_setns_net(int fd) { return result(setns(fd, CLONE_NEWNET)); }
int clab_unshare_net(void) { return result(unshare(CLONE_NEWNET)); }
int clab_clone_newnet(void) { return CLONE_NEWNET; }

int clab_bind_mount(const char *source, const char *target) {
    return result(mount(source, target, "none", MS_BIND, NULL));
}
int clab_bind_mount_self(const char *path) {
    return result(mount(path, path, "none", MS_BIND | MS_REC, NULL));
}
int clab_make_shared(const char *path) { return result(mount("", path, "none", MS_SHARED | MS_REC, NULL)); }
int clab_make_slave(const char *path) { return result(mount("", path, "none", MS_SLAVE | MS_REC, NULL)); }
int clab_umount_detach(const char *path) { return result(umount2(path, MNT_DETACH)); }

// The ioctl acts on the namespace of the socket, which is the namespace of the thread that made it.
static int ethtool_value(const char *ifname, __u32 cmd, __u32 *data) {
    if (strlen(ifname) >= IFNAMSIZ) return -ENAMETOOLONG;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ethtool_value value = { .cmd = cmd, .data = *data };
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, ifname, IFNAMSIZ - 1);
    request.ifr_data = (char *)&value;
    int rc = ioctl(fd, SIOCETHTOOL, &request) < 0 ? -errno : 0;
    close(fd);
    *data = value.data;
    return rc;
}

int clab_set_tx_csum(const char *ifname, int on) {
    __u32 data = on ? 1 : 0;
    return ethtool_value(ifname, ETHTOOL_STXCSUM, &data);
}

int clab_get_tx_csum(const char *ifname) {
    __u32 data = 0;
    int rc = ethtool_value(ifname, ETHTOOL_GTXCSUM, &data);
    return rc < 0 ? rc : (data ? 1 : 0);
}

int clab_gettid(void) { return (int)gettid(); }
