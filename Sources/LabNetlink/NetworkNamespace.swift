#if canImport(Glibc)
import Glibc
#endif
import CLabSys
import Synchronization

/// A named network namespace, made and removed exactly as iproute2 does (`ip netns add` / `ip netns del`),
/// so that `ip netns list`, `ip -n NAME` and `ip netns exec NAME` see it.
///
/// The name is a file in /run/netns with the namespace's nsfs inode bind-mounted on it; the mount is
/// what keeps an empty namespace alive. `descriptor` is an open file on it, for `setns(2)`.
///
/// `setns` moves only the calling thread (DESIGN.md, "Facts measured here"). `perform(_:)` moves the
/// calling thread in, runs its body and moves it back before returning, so it must not suspend: it
/// takes a synchronous closure only.
public final class NetworkNamespace {
    public static let directory = "/run/netns"

    public let name: String
    /// `O_RDONLY | O_CLOEXEC` on /run/netns/NAME; -1 once closed. An open descriptor keeps the
    /// namespace alive after its name is removed, so close it before expecting the kernel to free it.
    public private(set) var descriptor: Int32

    public var path: String { Self.path(of: name) }

    private init(name: String, descriptor: Int32) {
        self.name = name
        self.descriptor = descriptor
    }

    deinit { close() }

    public static func path(of name: String) -> String { directory + "/" + name }

    /// Whether /run/netns/NAME exists.
    public static func exists(named name: String) -> Bool {
        access(path(of: name), F_OK) == 0
    }

    /// Creates the namespace `name` (`ip netns add NAME`).
    ///
    /// - Parameters:
    ///   - name: the file name under /run/netns.
    ///   - ledger: when given, the namespace is recorded there before anything is created, and the record
    ///     is withdrawn again if creation fails, so `LabCleanup` removes it even if this process is killed.
    /// - Throws: `NetlinkError` with `.alreadyExists` and a `tcplab clean` hint when the name is taken.
    public static func create(named name: String, ledger: Ledger? = nil) throws -> NetworkNamespace {
        let operation = "create namespace"
        try LabNames.validateNamespace(name, operation: operation)
        try prepareDirectory()
        let entry = Ledger.Entry(kind: .namespace, name: name)
        try ledger?.record(entry)
        do {
            let namespace = try makeNamespace(name, operation: operation)
            return namespace
        } catch {
            try? ledger?.withdraw([entry])
            throw error
        }
    }

    private static func makeNamespace(_ name: String, operation: String) throws -> NetworkNamespace {
        let path = path(of: name)
        // O_EXCL makes the name ours before anything else happens; a taken name is never touched.
        let file = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        if file < 0 {
            let code = errno
            throw NetlinkError.system(operation, name, errno: code,
                                      hint: code == EEXIST ? "namespace \(name) already exists; \(NetlinkError.cleanHint)" : nil)
        }
        Glibc.close(file)

        let original = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else {
            let code = errno
            unlink(path)
            throw NetlinkError.system(operation, name, errno: code)
        }
        defer { Glibc.close(original) }

        var rc = clab_unshare_net()
        if rc < 0 {
            unlink(path)
            throw NetlinkError.system(operation + " (unshare CLONE_NEWNET)", name, errno: -rc)
        }
        rc = clab_bind_mount("/proc/thread-self/ns/net", path)
        returnToNamespace(original)
        if rc < 0 {
            unlink(path)
            throw NetlinkError.system(operation + " (bind mount)", name, errno: -rc)
        }
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            _ = clab_umount_detach(path)
            unlink(path)
            throw NetlinkError.system(operation + " (open)", name, errno: code)
        }
        return NetworkNamespace(name: name, descriptor: descriptor)
    }

    /// Opens an existing namespace by name.
    public static func open(named name: String) throws -> NetworkNamespace {
        try LabNames.validateNamespace(name, operation: "open namespace")
        let descriptor = Glibc.open(path(of: name), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw NetlinkError.system("open namespace", name, errno: errno)
        }
        return NetworkNamespace(name: name, descriptor: descriptor)
    }

    /// Removes the name `name` (`ip netns del NAME`): detaches the bind mount and unlinks the file.
    ///
    /// The kernel frees the namespace, and with it every interface in it (both ends of a veth go when
    /// either end's namespace goes), once no process, socket or descriptor refers to it any more.
    ///
    /// - Returns: false when there was nothing of that name.
    @discardableResult
    public static func delete(named name: String) throws -> Bool {
        try LabNames.validateNamespace(name, operation: "delete namespace")
        let path = path(of: name)
        let rc = clab_umount_detach(path)
        // EINVAL: the file exists but nothing is mounted on it (a creator killed between the two steps).
        if rc < 0, -rc != EINVAL, -rc != ENOENT {
            throw NetlinkError.system("delete namespace (umount)", name, errno: -rc)
        }
        if unlink(path) < 0 {
            let code = errno
            if code == ENOENT { return rc == 0 }
            throw NetlinkError.system("delete namespace (unlink)", name, errno: code)
        }
        return true
    }

    /// Closes `descriptor`. Idempotent.
    public func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    /// Closes the descriptor and removes the name.
    public func delete() throws {
        close()
        try Self.delete(named: name)
    }

    /// Runs `body` with the calling thread inside this namespace, then moves the thread back to the
    /// namespace it was in. Sockets created and /proc/sys/net files opened inside belong to this namespace.
    public func perform<T>(_ body: () throws -> T) throws -> T {
        guard descriptor >= 0 else {
            throw NetlinkError(.failed, operation: "enter namespace", object: name, reason: "the namespace descriptor is closed")
        }
        let original = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError.system("enter namespace", name, errno: errno) }
        defer { Glibc.close(original) }
        let rc = clab_setns_net(descriptor)
        guard rc == 0 else { throw NetlinkError.system("enter namespace (setns)", name, errno: -rc) }
        defer { Self.returnToNamespace(original) }
        return try body()
    }

    /// A thread left in a lab namespace would quietly run the rest of the program there: stop instead.
    private static func returnToNamespace(_ original: Int32) {
        let rc = clab_setns_net(original)
        if rc != 0 {
            fatalError("LabNetlink: could not return the thread to its network namespace: \(errnoText(-rc))")
        }
    }

    private static let directoryPrepared = Mutex(false)

    /// Makes /run/netns exist and be a shared mount point, as `ip netns add` does, so that a namespace
    /// mounted there is visible in every mount namespace that later copies this one.
    static func prepareDirectory() throws {
        try directoryPrepared.withLock { prepared in
            if prepared { return }
            if mkdir("/run", 0o755) < 0, errno != EEXIST { throw NetlinkError.system("create directory", "/run", errno: errno) }
            if mkdir(directory, 0o755) < 0, errno != EEXIST {
                throw NetlinkError.system("create directory", directory, errno: errno)
            }
            var rc = clab_make_shared(directory)
            if rc == -EINVAL {
                // Not a mount point yet: bind it onto itself first (iproute2's netns_add does the same).
                rc = clab_bind_mount_self(directory)
                if rc == 0 { rc = clab_make_shared(directory) }
            }
            guard rc == 0 else { throw NetlinkError.system("make shared mount", directory, errno: -rc) }
            prepared = true
        }
    }
}
