#if canImport(Glibc)
import Glibc
#endif
import CLabSys
import CNetlink
import Foundation
import TCPWire

/// A libnl route socket bound to one network namespace, and the link and address operations a lab needs.
///
/// A netlink socket stays bound to the namespace it was created in, so the socket is opened with the
/// calling thread briefly inside `namespace` (`NetworkNamespace.perform`); every request afterwards goes
/// to that namespace from any thread. Requests are synchronous: each returns once the kernel has acked it.
///
/// The socket holds a reference to the namespace: `close()` it before expecting the namespace to go away.
public final class Netlink {
    public let namespace: NetworkNamespace

    private var socket: OpaquePointer?
    private let context: UnsafeMutablePointer<cnl_error_context>
    private var indexes: [String: Int32] = [:]

    /// Opens a NETLINK_ROUTE socket in `namespace`.
    public init(namespace: NetworkNamespace) throws {
        self.namespace = namespace
        let context = UnsafeMutablePointer<cnl_error_context>.allocate(capacity: 1)
        context.initialize(to: cnl_error_context())
        self.context = context
        var error: Int32 = 0
        do {
            socket = try namespace.perform { cnl_route_socket(context, &error) }
        } catch {
            context.deallocate()
            throw error
        }
        if socket == nil {
            context.deallocate()
            throw NetlinkError(.failed, operation: "open netlink socket", object: namespace.name, reason: Self.libnlText(error))
        }
    }

    deinit {
        close()
        context.deallocate()
    }

    /// Frees the socket. Idempotent; later requests throw.
    public func close() {
        if let socket {
            nl_socket_free(socket)
            self.socket = nil
        }
    }

    // MARK: Links

    /// Creates a veth pair: `name` in this namespace, `peer` in `peerNamespace`
    /// (`ip link add NAME type veth peer name PEER netns PEERNS`).
    ///
    /// - Parameters:
    ///   - mtu: both ends' MTU; the kernel's default (1500) when nil.
    ///   - mac, peerMAC: each end's address; random (locally administered) when nil.
    ///   - up: brings `name` up in the same request. The peer cannot be: the kernel opens it before the
    ///     pair is joined and answers ENOTCONN (DESIGN.md), so bring it up from its own namespace.
    ///   - ledger: when given, the pair is recorded there first and withdrawn if creation fails.
    public func createVeth(
        _ name: String, peer: String, in peerNamespace: NetworkNamespace,
        mtu: Int? = nil, mac: MACAddress? = nil, peerMAC: MACAddress? = nil, up: Bool = false,
        ledger: Ledger? = nil
    ) throws {
        let operation = "create veth"
        let object = "\(name) in \(namespace.name) (peer \(peer) in \(peerNamespace.name))"
        try LabNames.validateInterface(name, operation: operation)
        try LabNames.validateInterface(peer, operation: operation)
        if let mtu { try Self.validateMTU(mtu, operation: operation, object: object) }
        guard peerNamespace.descriptor >= 0 else {
            throw NetlinkError(.failed, operation: operation, object: object, reason: "the peer's namespace descriptor is closed")
        }
        let entry = Ledger.Entry(kind: .veth, name: name, namespace: namespace.name, peer: peer, peerNamespace: peerNamespace.name)
        try ledger?.record(entry)
        do {
            guard let link = rtnl_link_veth_alloc() else { throw Self.outOfMemory(operation, object) }
            defer { rtnl_link_put(link) }
            // rtnl_link_veth_get_peer takes a reference of its own (libnl 3.7).
            guard let peerLink = rtnl_link_veth_get_peer(link) else { throw Self.outOfMemory(operation, object) }
            defer { rtnl_link_put(peerLink) }
            rtnl_link_set_name(link, name)
            rtnl_link_set_name(peerLink, peer)
            rtnl_link_set_ns_fd(peerLink, peerNamespace.descriptor)
            if let mtu {
                rtnl_link_set_mtu(link, UInt32(mtu))
                rtnl_link_set_mtu(peerLink, UInt32(mtu))
            }
            try Self.withAddress(mac) { address in if let address { rtnl_link_set_addr(link, address) } }
            try Self.withAddress(peerMAC) { address in if let address { rtnl_link_set_addr(peerLink, address) } }
            if up { cnl_link_set_up(link) }
            try request(operation, object, existsHint: "an interface of that name already exists there; \(NetlinkError.cleanHint)") {
                rtnl_link_add($0, link, cnl_flags_create_exclusive())
            }
        } catch {
            try? ledger?.withdraw([entry])
            throw error
        }
    }

    /// Changes `name`'s settings in one request (`ip link set NAME [up|down] [mtu N] [address MAC]`).
    public func setLink(_ name: String, up: Bool? = nil, mtu: Int? = nil, mac: MACAddress? = nil) throws {
        let changes = [up.map { $0 ? "up" : "down" }, mtu.map { "mtu \($0)" }, mac.map { "address \($0)" }].compactMap { $0 }
        let what = "set link " + (changes.isEmpty ? "(nothing)" : changes.joined(separator: " "))
        let object = objectName(name)
        try LabNames.validateInterface(name, operation: what)
        if let mtu { try Self.validateMTU(mtu, operation: what, object: object) }
        guard let link = rtnl_link_alloc() else { throw Self.outOfMemory(what, object) }
        defer { rtnl_link_put(link) }
        // RTM_NEWLINK without NLM_F_CREATE, found by IFLA_IFNAME: what `ip link set` sends.
        rtnl_link_set_name(link, name)
        if up == true { cnl_link_set_up(link) }
        if up == false { cnl_link_set_down(link) }
        if let mtu { rtnl_link_set_mtu(link, UInt32(mtu)) }
        try Self.withAddress(mac) { address in if let address { rtnl_link_set_addr(link, address) } }
        try request(what, object) { rtnl_link_add($0, link, 0) }
    }

    /// `ip link set NAME up`.
    public func setUp(_ name: String) throws { try setLink(name, up: true) }
    /// `ip link set NAME down`.
    public func setDown(_ name: String) throws { try setLink(name, up: false) }
    /// `ip link set NAME mtu MTU`.
    public func setMTU(_ name: String, _ mtu: Int) throws { try setLink(name, mtu: mtu) }
    /// `ip link set NAME address MAC`.
    public func setMAC(_ name: String, _ mac: MACAddress) throws { try setLink(name, mac: mac) }
    /// `ip link set lo up`: a fresh namespace's loopback is down.
    public func bringLoopbackUp() throws { try setUp("lo") }

    /// `ip link del NAME` (for a veth, both ends go).
    public func deleteLink(_ name: String) throws {
        try LabNames.validateInterface(name, operation: "delete link")
        guard let link = rtnl_link_alloc() else { throw Self.outOfMemory("delete link", objectName(name)) }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name)
        indexes[name] = nil
        try request("delete link", objectName(name)) { rtnl_link_delete($0, link) }
    }

    /// What the kernel reports about one link.
    public struct LinkInfo: Sendable, Equatable {
        public var name: String
        public var index: Int32
        public var mtu: Int
        public var mac: MACAddress?
        /// IFF_UP: administratively up.
        public var isUp: Bool
        /// IFF_LOWER_UP: carrier (for a veth, the peer is up too).
        public var hasCarrier: Bool
    }

    /// `ip link show NAME`; nil when there is no such link.
    public func link(named name: String) throws -> LinkInfo? {
        try LabNames.validateInterface(name, operation: "get link")
        var result: OpaquePointer?
        do {
            try request("get link", objectName(name)) { rtnl_link_get_kernel($0, 0, name, &result) }
        } catch let error as NetlinkError where error.code == .notFound {
            return nil
        }
        guard let link = result else { return nil }
        defer { rtnl_link_put(link) }
        var mac: MACAddress?
        if let address = rtnl_link_get_addr(link), nl_addr_get_len(address) == 6,
           let bytes = nl_addr_get_binary_addr(address)?.assumingMemoryBound(to: UInt8.self) {
            mac = MACAddress(bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5])
        }
        let index = rtnl_link_get_ifindex(link)
        indexes[name] = index
        return LinkInfo(name: name, index: index, mtu: Int(rtnl_link_get_mtu(link)), mac: mac,
                        isUp: cnl_link_is_up(link) != 0, hasCarrier: cnl_link_is_lower_up(link) != 0)
    }

    /// The interface index of `name`, asked of the kernel once and then remembered.
    public func index(of name: String) throws -> Int32 {
        if let index = indexes[name] { return index }
        guard let info = try link(named: name) else {
            throw NetlinkError(.notFound, operation: "get link", object: objectName(name), reason: "no such interface", errno: ENODEV)
        }
        return info.index
    }

    // MARK: Addresses

    /// `ip addr add ADDRESS/PREFIX dev NAME`.
    public func addAddress(_ address: IPv4Interface, to name: String) throws {
        let operation = "add address \(address)"
        let object = objectName(name)
        let index: Int32
        do {
            index = try self.index(of: name)
        } catch var error as NetlinkError {
            error.operation = operation
            throw error
        }
        guard let addr = rtnl_addr_alloc() else { throw Self.outOfMemory(operation, object) }
        defer { rtnl_addr_put(addr) }
        var bytes = address.address.rawValue.bigEndian
        guard let local = nl_addr_build(AF_INET, &bytes, 4) else { throw Self.outOfMemory(operation, object) }
        defer { nl_addr_put(local) }
        nl_addr_set_prefixlen(local, Int32(address.prefixLength))
        rtnl_addr_set_ifindex(addr, index)
        rtnl_addr_set_family(addr, AF_INET)
        let rc = rtnl_addr_set_local(addr, local)
        guard rc == 0 else {
            throw NetlinkError(.failed, operation: operation, object: object, reason: Self.libnlText(rc))
        }
        rtnl_addr_set_prefixlen(addr, Int32(address.prefixLength))
        try request(operation, object, existsHint: "the interface already has that address") {
            rtnl_addr_add($0, addr, cnl_flags_create_exclusive())
        }
    }

    // MARK: Inside the namespace

    /// Turns IPv6 off on `name` (`/proc/sys/net/ipv6/conf/NAME/disable_ipv6` = 1): without it the kernel
    /// sends MLD reports and router solicitations on every lab link (DESIGN.md).
    public func disableIPv6(on name: String) throws {
        try inNamespace { try $0.disableIPv6(on: name) }
    }

    /// Writes `value` to /proc/sys/`key` as seen from this namespace (`ip netns exec NS sysctl -w`).
    /// `key` is slash-separated: `net/ipv6/conf/default/disable_ipv6`.
    public func writeSysctl(_ key: String, _ value: String) throws {
        try namespace.perform { try Self.writeProcSys(key, value, namespace: namespace.name) }
    }

    /// Reads /proc/sys/`key` as seen from this namespace.
    public func readSysctl(_ key: String) throws -> String {
        try namespace.perform { try Self.readProcSys(key, namespace: namespace.name) }
    }

    /// TX checksum offload on or off (`ethtool -K NAME tx on|off`, SIOCETHTOOL ETHTOOL_STXCSUM). A kernel
    /// peer's frames leave a veth with an unfinished checksum unless it is off (DESIGN.md).
    public func setTXChecksumOffload(_ on: Bool, on name: String) throws {
        try LabNames.validateInterface(name, operation: "set tx checksum offload")
        let rc = try namespace.perform { clab_set_tx_csum(name, on ? 1 : 0) }
        if rc < 0 { throw NetlinkError.system("set tx checksum offload \(on ? "on" : "off")", objectName(name), errno: -rc) }
    }

    /// Whether TX checksum offload is on (SIOCETHTOOL ETHTOOL_GTXCSUM).
    public func txChecksumOffload(on name: String) throws -> Bool {
        try LabNames.validateInterface(name, operation: "get tx checksum offload")
        let rc = try namespace.perform { clab_get_tx_csum(name) }
        if rc < 0 { throw NetlinkError.system("get tx checksum offload", objectName(name), errno: -rc) }
        return rc == 1
    }

    /// Runs `body` with the calling thread in this session's namespace, for several sysctl or ioctl
    /// operations at the price of one pair of `setns` calls. `body` must not keep its `InPlace` value.
    public func inNamespace<T>(_ body: (InPlace) throws -> T) throws -> T {
        try namespace.perform { try body(InPlace(namespace: namespace.name)) }
    }

    /// The namespace-local operations, valid only inside `inNamespace(_:)`.
    public struct InPlace {
        let namespace: String

        /// See `Netlink.disableIPv6(on:)`. A kernel without IPv6 (`ipv6.disable=1`) has nothing to disable.
        public func disableIPv6(on name: String) throws {
            try LabNames.validateInterface(name, operation: "disable IPv6")
            guard access("/proc/sys/net/ipv6", F_OK) == 0 else { return }
            guard access("/proc/sys/net/ipv6/conf/\(name)", F_OK) == 0 else {
                throw NetlinkError(.notFound, operation: "disable IPv6", object: "\(name) in \(namespace)",
                                   reason: "no such interface", errno: ENODEV)
            }
            try Netlink.writeProcSys("net/ipv6/conf/\(name)/disable_ipv6", "1", namespace: namespace)
        }

        public func writeSysctl(_ key: String, _ value: String) throws {
            try Netlink.writeProcSys(key, value, namespace: namespace)
        }

        public func setTXChecksumOffload(_ on: Bool, on name: String) throws {
            try LabNames.validateInterface(name, operation: "set tx checksum offload")
            let rc = clab_set_tx_csum(name, on ? 1 : 0)
            if rc < 0 { throw NetlinkError.system("set tx checksum offload \(on ? "on" : "off")", "\(name) in \(namespace)", errno: -rc) }
        }
    }

    static func writeProcSys(_ key: String, _ value: String, namespace: String) throws {
        let path = "/proc/sys/" + key
        let file = open(path, O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { throw NetlinkError.system("write sysctl \(key)=\(value)", "in \(namespace)", errno: errno) }
        defer { Glibc.close(file) }
        let written = value.withCString { write(file, $0, strlen($0)) }
        if written < 0 { throw NetlinkError.system("write sysctl \(key)=\(value)", "in \(namespace)", errno: errno) }
    }

    static func readProcSys(_ key: String, namespace: String) throws -> String {
        let path = "/proc/sys/" + key
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw NetlinkError.system("read sysctl \(key)", "in \(namespace)", errno: errno) }
        defer { Glibc.close(file) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(file, &buffer, buffer.count)
        if count < 0 { throw NetlinkError.system("read sysctl \(key)", "in \(namespace)", errno: errno) }
        return String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .newlines)
    }

    // MARK: Requests and errors

    private func objectName(_ interface: String) -> String { "\(interface) in \(namespace.name)" }

    /// Sends one request through `body` and turns a libnl failure into a `NetlinkError` carrying
    /// `nl_geterror`'s text, the kernel's errno and its extended-ACK message.
    private func request(_ operation: String, _ object: String, existsHint: String? = nil, _ body: (OpaquePointer) -> Int32) throws {
        guard let socket else {
            throw NetlinkError(.failed, operation: operation, object: object, reason: "the netlink session is closed")
        }
        context.pointee.error = 0
        context.pointee.message.0 = 0
        let rc = body(socket)
        guard rc < 0 else { return }
        let kernelErrno = context.pointee.error
        let kernelMessage = withUnsafeBytes(of: &context.pointee.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        var reason = Self.libnlText(rc)
        if kernelErrno != 0 {
            reason += " (kernel: \(errnoText(kernelErrno))" + (kernelMessage.isEmpty ? "" : ", \"\(kernelMessage)\"") + ")"
        }
        let code: NetlinkError.Code
        switch -rc {
        case NLE_EXIST: code = .alreadyExists
        case NLE_OBJ_NOTFOUND, NLE_NODEV: code = .notFound
        case NLE_PERM, NLE_NOACCESS: code = .notPermitted
        case NLE_INVAL, NLE_RANGE: code = .invalidArgument
        default: code = .failed
        }
        var hint = code == .alreadyExists ? existsHint : nil
        if code == .notPermitted { hint = Privileges.requirement }
        throw NetlinkError(code, operation: operation, object: object, reason: reason,
                           errno: kernelErrno != 0 ? kernelErrno : nil, hint: hint)
    }

    static func libnlText(_ rc: Int32) -> String { String(cString: nl_geterror(rc)) }

    private static func outOfMemory(_ operation: String, _ object: String) -> NetlinkError {
        NetlinkError(.failed, operation: operation, object: object, reason: "libnl could not allocate", errno: ENOMEM)
    }

    static func validateMTU(_ mtu: Int, operation: String, object: String) throws {
        // 68 is IPv4's minimum (RFC 791); 65535 is the largest a veth accepts.
        guard (68...65535).contains(mtu) else {
            throw NetlinkError.invalid(operation, object, "MTU \(mtu) is outside 68...65535")
        }
    }

    private static func withAddress(_ mac: MACAddress?, _ body: (OpaquePointer?) throws -> Void) throws {
        guard let mac else { return try body(nil) }
        var bytes = (0..<6).map { mac[$0] }
        guard let address = cnl_mac_address(&bytes) else {
            throw NetlinkError(.failed, operation: "build MAC address", object: "\(mac)", reason: "libnl could not allocate")
        }
        defer { nl_addr_put(address) }
        try body(address)
    }
}
