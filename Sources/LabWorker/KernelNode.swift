import CLabIO
import Foundation
import LabControl
import TCPEngine
import TCPWire

#if canImport(Glibc)
import Glibc
#endif

/// A kernel-client or kernel-server node: the namespace's own Linux stack, driven through ordinary
/// sockets, so our stack meets the real thing. Its segments are recorded from a capture socket on
/// each interface (both directions).
final class KernelNode: NodeRuntime {
    let config: WorkerConfig
    private let captureSockets: [(fd: Int32, index: Int32)]
    private let captures: [PcapFile?]
    private var events: [LabEvent] = []
    private var buffer = [UInt8](repeating: 0, count: 65536)
    /// Watches a connecting socket for writability (set by the worker).
    var watchConnect: ((Int32) -> Void)?
    private var connecting: Set<Int32> = []
    static let connectTagBase: UInt64 = 1 << 32

    init(config: WorkerConfig) throws {
        self.config = config
        // The kernel's own sysctls for this namespace.
        for (name, value) in config.sysctl {
            let path = name.contains("/") ? name : (["somaxconn", "rmem_max", "wmem_max"].contains(name) ? "/proc/sys/net/core/\(name)" : "/proc/sys/net/ipv4/\(name)")
            guard FileManager.default.isWritableFile(atPath: path) else { throw WorkerError("kernel node \(config.node): no sysctl \(name) (\(path))") }
            try "\(value)\n".write(toFile: path, atomically: false, encoding: .utf8)
        }
        captureSockets = try config.interfaces.map { spec in
            var index: Int32 = 0
            let fd = clab_packet_open_capture(spec.name, &index)
            guard fd >= 0 else { throw WorkerError("cannot capture on \(spec.name): \(String(cString: strerror(-fd)))") }
            return (fd, index)
        }
        captures = try config.interfaces.map { spec in
            try config.pcapDirectory.map { try PcapFile(path: "\($0)/\(config.node)-\(spec.name).pcap") }
        }
    }

    deinit { for s in captureSockets { close(s.fd) } }

    var watched: [(fd: Int32, tag: UInt64)] { captureSockets.enumerated().map { ($1.fd, UInt64($0)) } }
    var nextDeadline: Int64 { .max }

    func ready(tag: UInt64, at now: Int64) {
        if tag >= Self.connectTagBase {
            connectFinished(Int32(tag - Self.connectTagBase), at: now)
            return
        }
        let i = Int(tag)
        guard captureSockets.indices.contains(i) else { return }
        for _ in 0..<256 {
            var outgoing: Int32 = 0
            let n = buffer.withUnsafeMutableBytes { clab_packet_recv_dir(captureSockets[i].fd, $0.baseAddress, $0.count, &outgoing) }
            guard n > 0 else { break }
            let bytes = Array(buffer[0..<n])
            captures[i]?.write(bytes, monotonic: now)
            if let frame = try? Frame.parse(bytes, verifyChecksums: false), let s = frame.tcpSegment {
                events.append(.segment(t: now, node: config.node, dir: outgoing != 0 ? "out" : "in", SegmentRecord(s)))
            }
        }
    }

    private func connectFinished(_ fd: Int32, at now: Int64) {
        guard connecting.remove(fd) != nil else { return }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        var e = LabEvent(t: now, node: config.node, kind: err == 0 ? "connected" : "error")
        e.socket = fd
        if err != 0 { e.error = Self.errnoName(err) }
        events.append(e)
    }

    func poll(at now: Int64) {}

    func handle(_ command: ControlCommand, at now: Int64) -> ControlReply {
        var reply = ControlReply(id: command.id, ok: true)
        func fail(_ call: String) -> ControlReply { .failure(command.id, Self.errnoName(errno)) }
        switch command.op {
        case "listen":
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return fail("socket") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = Self.inetAddress(command.address ?? "0.0.0.0", command.port ?? 0)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, Glibc.listen(fd, Int32(command.backlog ?? 128)) == 0 else { let r = fail("bind/listen"); close(fd); return r }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            reply.socket = fd
        case "connect":
            guard let to = command.to, let remote = StackNode.socketAddress(to) else { return .failure(command.id, "connect needs to: \"198.18.0.2:80\"") }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return fail("socket") }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if let lp = command.localPort {
                var local = Self.inetAddress("0.0.0.0", lp)
                _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
            var addr = Self.inetAddress("\(remote.address)", remote.port)
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc != 0 && errno != EINPROGRESS { let r = fail("connect"); close(fd); return r }
            connecting.insert(fd)
            watchConnect?(fd)
            reply.socket = fd
        case "accept":
            guard let s = command.socket else { return .failure(command.id, "accept needs a socket") }
            let fd = Glibc.accept(s, nil, nil)
            guard fd >= 0 else { return fail("accept") }
            reply.socket = fd
        case "send":
            guard let s = command.socket else { return .failure(command.id, "send needs a socket") }
            let bytes = Array((command.data ?? "").utf8)
            let n = bytes.withUnsafeBytes { Glibc.send(s, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n >= 0 else { return fail("send") }
            reply.data = String(n)
        case "recv":
            guard let s = command.socket else { return .failure(command.id, "recv needs a socket") }
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = buf.withUnsafeMutableBytes { Glibc.recv(s, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n >= 0 else { return fail("recv") }
            reply.data = String(decoding: buf[0..<n], as: UTF8.self)
        case "close":
            guard let s = command.socket else { return .failure(command.id, "close needs a socket") }
            close(s)
        case "shutdown":
            guard let s = command.socket else { return .failure(command.id, "shutdown needs a socket") }
            let how: Int32 = command.how == "read" ? Int32(SHUT_RD) : command.how == "both" ? Int32(SHUT_RDWR) : Int32(SHUT_WR)
            guard Glibc.shutdown(s, how) == 0 else { return fail("shutdown") }
        case "setsockopt":
            guard let s = command.socket, let (level, name) = Self.optionNumber(command.name ?? "") else {
                return .failure(command.id, "unknown socket option \(command.name ?? "")")
            }
            if name == SO_LINGER {
                var l = linger(l_onoff: (command.value ?? 0) != 0 ? 1 : 0, l_linger: Int32(command.seconds ?? 0))
                guard setsockopt(s, level, name, &l, socklen_t(MemoryLayout<linger>.size)) == 0 else { return fail("setsockopt") }
            } else {
                var v = Int32(command.value ?? 0)
                guard setsockopt(s, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else { return fail("setsockopt") }
            }
        case "sysctl":
            guard let name = command.name, let value = command.value else { return .failure(command.id, "sysctl needs name and value") }
            do { try "\(value)\n".write(toFile: "/proc/sys/net/ipv4/\(name)", atomically: false, encoding: .utf8) } catch {
                return .failure(command.id, "cannot set \(name): \(error)")
            }
        default:
            return .failure(command.id, "a kernel node does not take \(command.op)")
        }
        return reply
    }

    func takeEvents() -> [LabEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    func flush() { for c in captures { c?.flush() } }

    static func inetAddress(_ ip: String, _ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = (IPv4Address(ip)?.rawValue ?? 0).bigEndian
        return a
    }

    /// Linux's option numbers (include/uapi/linux/tcp.h, asm-generic/socket.h).
    static func optionNumber(_ name: String) -> (Int32, Int32)? {
        let tcp = Int32(IPPROTO_TCP)
        switch name {
        case "SO_REUSEADDR": return (SOL_SOCKET, 2)
        case "SO_KEEPALIVE": return (SOL_SOCKET, 9)
        case "SO_SNDBUF": return (SOL_SOCKET, 7)
        case "SO_RCVBUF": return (SOL_SOCKET, 8)
        case "SO_LINGER": return (SOL_SOCKET, SO_LINGER)
        case "TCP_NODELAY": return (tcp, 1)
        case "TCP_MAXSEG": return (tcp, 2)
        case "TCP_KEEPIDLE": return (tcp, 4)
        case "TCP_KEEPINTVL": return (tcp, 5)
        case "TCP_KEEPCNT": return (tcp, 6)
        case "TCP_SYNCNT": return (tcp, 7)
        case "TCP_LINGER2": return (tcp, 8)
        case "TCP_DEFER_ACCEPT": return (tcp, 9)
        case "TCP_QUICKACK": return (tcp, 12)
        case "TCP_USER_TIMEOUT": return (tcp, 18)
        default: return nil
        }
    }

    static func errnoName(_ e: Int32) -> String {
        switch e {
        case EAGAIN: "EAGAIN"
        case ECONNREFUSED: "ECONNREFUSED"
        case ECONNRESET: "ECONNRESET"
        case ETIMEDOUT: "ETIMEDOUT"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case ENETUNREACH: "ENETUNREACH"
        case EADDRINUSE: "EADDRINUSE"
        case EINVAL: "EINVAL"
        case EPIPE: "EPIPE"
        case ENOTCONN: "ENOTCONN"
        case EBADF: "EBADF"
        default: String(cString: strerror(e))
        }
    }
}
