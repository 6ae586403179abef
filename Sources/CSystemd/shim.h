// libsystemd's journal API for LabJournal. The variadic sd_journal_send cannot be called from Swift;
// sd_journal_sendv takes an iovec array and can. The helpers are static inline so that this system
// library target needs no C sources of its own.
#ifndef TCPLAB_CSYSTEMD_SHIM_H
#define TCPLAB_CSYSTEMD_SHIM_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
// Without this, sd-journal.h turns sd_journal_sendv into sd_journal_sendv_with_location, which adds
// CODE_FILE=shim.h, CODE_LINE and CODE_FUNC=tcplab_journal_sendv to every entry: wrong, and three
// fields journald must store for nothing. Callers that know their location send CODE_* themselves.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

/// sd_journal_sendv(3): one journal entry, one "FIELD=value" per iovec. Returns 0 or -errno.
/// Returns 0 also when no socket exists at /run/systemd/journal/socket: the entry is then lost,
/// which is why callers probe the socket first (tcplab_socket_listening).
static inline int tcplab_journal_sendv(const struct iovec *iov, int n) {
    return sd_journal_sendv(iov, n);
}

/// Whether something is bound to the datagram socket at `path`: connect(2) succeeds only then.
/// Returns 0 when it is, -ENOENT when there is no such file, -ECONNREFUSED when the file is a
/// stale socket nobody reads (journald stopped), another -errno otherwise.
static inline int tcplab_socket_listening(const char *path, int type) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path) return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : -e;
}

/// A connected AF_UNIX stream socket to `path` (journald's varlink socket), or -errno.
static inline int tcplab_unix_stream_connect(const char *path) {
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path) return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

#endif
