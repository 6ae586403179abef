// What Glibc's Swift module leaves out because it is built without _GNU_SOURCE: network namespaces,
// bind mounts, the legacy ethtool ioctl, CPU affinity (clab_placement.h). Every function returns 0 (or a value >= 0) on success
// and -errno on failure, so the caller never races errno.
#ifndef TCPLAB_CLABSYS_H
#define TCPLAB_CLABSYS_H

#include "clab_placement.h"

/// setns(2): moves the calling thread (only that thread) into the namespace `fd` refers to.
int clab_setns(int fd, int nstype);
/// setns(fd, CLONE_NEWNET).
int clab_setns_net(int fd);
/// unshare(CLONE_NEWNET): gives the calling thread a new, empty network namespace.
int clab_unshare_net(void);
/// CLONE_NEWNET, for callers that pass nstype themselves.
int clab_clone_newnet(void);
/// mount(source, target, "none", MS_BIND, NULL): how `ip netns add` pins a namespace to a file.
int clab_bind_mount(const char *source, const char *target);
/// mount(path, path, "none", MS_BIND | MS_REC, NULL): makes `path` a mount point of its own.
int clab_bind_mount_self(const char *path);
/// mount("", path, "none", MS_SHARED | MS_REC, NULL): `mount --make-rshared`.
int clab_make_shared(const char *path);
/// mount("", path, "none", MS_SLAVE | MS_REC, NULL): `mount --make-rslave`.
int clab_make_slave(const char *path);
/// umount2(path, MNT_DETACH).
int clab_umount_detach(const char *path);
/// SIOCETHTOOL ETHTOOL_STXCSUM on `ifname` in the calling thread's network namespace.
int clab_set_tx_csum(const char *ifname, int on);
/// SIOCETHTOOL ETHTOOL_GTXCSUM: 1 when TX checksum offload is on, 0 when off, -errno on failure.
int clab_get_tx_csum(const char *ifname);
/// gettid(2).
int clab_gettid(void);

#endif
