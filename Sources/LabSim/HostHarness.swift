import TCPEngine
import TCPPolicy
import TCPWire

// A smoltcp-style single-host harness: one `Host` under test and scripted peers that hand it frames
// and check what it sends back, in virtual time. A test reads like a packet trace:
//
//     let h = HostHarness()
//     let listener = try h.listen(port: 80, backlog: 128)
//     h.peer.sends(.syn(seq: 0))
//     h.expectSent(flags: .synAck, seq: 0, ack: 1, window: 65160,
//                  options: [.mss(1460), .sackOK, .ts(ecr: h.peer.tsVal), .nop, .wscale(10)], at: .zero)
//     h.peer.sends(.ack(seq: 1, ack: 1))
//     h.expectNothing()
//
// Sequence numbers are relative to the ISNs, as Wireshark shows them: a peer's seq counts from its own
// ISN, an ack it sends counts from the host's ISN (learnt from the host's first SYN or SYN-ACK to that
// peer), and the other way round for segments the host sends. `.absolute(x)` gives a raw value.

/// A sequence or acknowledgment number in a script: relative to an ISN (an integer literal), or absolute.
public struct SeqValue: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    enum Kind: Hashable, Sendable {
        case relative(Int64)
        case absolute(UInt32)
    }

    let kind: Kind

    /// `seq: 1` means ISN + 1.
    public init(integerLiteral value: Int64) { kind = .relative(value) }

    /// An offset from the ISN; may be negative or beyond 2^32 (it wraps).
    public static func relative(_ offset: Int64) -> SeqValue { SeqValue(kind: .relative(offset)) }
    /// A raw sequence number, not relative to anything.
    public static func absolute(_ value: UInt32) -> SeqValue { SeqValue(kind: .absolute(value)) }

    private init(kind: Kind) { self.kind = kind }

    /// The wire value, given the ISN the relative form counts from.
    func resolve(isn: SequenceNumber?) -> SequenceNumber? {
        switch kind {
        case let .absolute(v): SequenceNumber(v)
        case let .relative(n): isn.map { SequenceNumber($0.rawValue &+ UInt32(truncatingIfNeeded: n)) }
        }
    }

    public var description: String {
        switch kind {
        case let .relative(n): "\(n)"
        case let .absolute(v): "absolute \(v)"
        }
    }
}

/// A TCP option in a script. Sent by a peer it becomes the real option; expected from the host it is
/// a pattern where a nil field matches anything.
public enum OptionSpec: Hashable, Sendable, CustomStringConvertible {
    case mss(UInt16)
    case sackOK
    case nop
    case wscale(UInt8)
    /// Timestamps. Sending: a nil `val` is the peer's clock, a nil `ecr` the last TSval the host sent to
    /// this peer (0 before any). Expecting: nil matches any value.
    case ts(val: UInt32? = nil, ecr: UInt32? = nil)
    case eol
    /// SACK blocks with absolute edges.
    case sack([SACKBlock])
    /// Any option, byte for byte.
    case raw(TCPOption)

    /// What Linux 6.18 puts in a SYN: `mss 1460,sackOK,TS val X ecr 0,nop,wscale 10` (with the peer's own
    /// window scale given here).
    public static func linuxSYN(mss: UInt16 = 1460, wscale: UInt8 = 7) -> [OptionSpec] {
        [.mss(mss), .sackOK, .ts(), .nop, .wscale(wscale)]
    }

    /// tcpdump's spelling, `*` for a field that matches anything.
    public var description: String {
        switch self {
        case let .mss(v): "mss \(v)"
        case .sackOK: "sackOK"
        case .nop: "nop"
        case let .wscale(v): "wscale \(v)"
        case let .ts(val, ecr): "TS val \(val.map(String.init) ?? "*") ecr \(ecr.map(String.init) ?? "*")"
        case .eol: "eol"
        case let .sack(blocks): TCPOption.sack(blocks).tcpdumpString
        case let .raw(option): option.tcpdumpString
        }
    }

    func matches(_ option: TCPOption) -> Bool {
        switch (self, option) {
        case let (.mss(a), .maxSegmentSize(b)): a == b
        case (.sackOK, .sackPermitted), (.nop, .noOperation): true
        case let (.wscale(a), .windowScale(b)): a == b
        case let (.ts(val, ecr), .timestamps(v, e)): (val == nil || val == v) && (ecr == nil || ecr == e)
        case (.eol, .endOfList): true
        case let (.sack(a), .sack(b)): a == b
        case let (.raw(a), b): a == b
        default: false
        }
    }
}

/// A segment a scripted peer sends. Build one with the static functions: `.syn(seq: 0)`,
/// `.ack(seq: 1, ack: 1)`, `.data("hello", seq: 1, ack: 1)`, `.rst(seq: 1)`…
public struct PeerSegment: Sendable {
    public var flags: TCPFlags
    public var seq: SeqValue
    /// Nil: 0 on the wire (segments without ACK).
    public var ack: SeqValue?
    public var window: UInt16
    /// Nil: the peer's usual options for the segment (`nop,nop,TS` once timestamps are on, else none).
    public var options: [OptionSpec]?
    public var payload: [UInt8]

    public init(flags: TCPFlags, seq: SeqValue, ack: SeqValue? = nil, window: UInt16, options: [OptionSpec]? = nil,
                payload: [UInt8] = []) {
        self.flags = flags
        self.seq = seq
        self.ack = ack
        self.window = window
        self.options = options
        self.payload = payload
    }

    /// A SYN; by default as Linux sends it (window 64240, `mss 1460,sackOK,TS,nop,wscale 7`).
    public static func syn(seq: SeqValue = 0, window: UInt16 = 64240, options: [OptionSpec] = OptionSpec.linuxSYN())
        -> PeerSegment
    {
        PeerSegment(flags: .syn, seq: seq, window: window, options: options)
    }

    /// A SYN-ACK; by default as Linux sends it (window 65160, `mss 1460,sackOK,TS,nop,wscale 7`).
    public static func synAck(seq: SeqValue = 0, ack: SeqValue = 1, window: UInt16 = 65160,
                              options: [OptionSpec] = OptionSpec.linuxSYN()) -> PeerSegment
    {
        PeerSegment(flags: .synAck, seq: seq, ack: ack, window: window, options: options)
    }

    /// A pure ACK (window 502: 64256 bytes at the default wscale 7).
    public static func ack(seq: SeqValue = 1, ack: SeqValue = 1, window: UInt16 = 502, options: [OptionSpec]? = nil)
        -> PeerSegment
    {
        PeerSegment(flags: .ack, seq: seq, ack: ack, window: window, options: options)
    }

    /// Data with PSH and ACK.
    public static func data(_ bytes: [UInt8], seq: SeqValue = 1, ack: SeqValue = 1, flags: TCPFlags = .pshAck,
                            window: UInt16 = 502, options: [OptionSpec]? = nil) -> PeerSegment
    {
        PeerSegment(flags: flags, seq: seq, ack: ack, window: window, options: options, payload: bytes)
    }

    /// Data with PSH and ACK, from text.
    public static func data(_ text: String, seq: SeqValue = 1, ack: SeqValue = 1, flags: TCPFlags = .pshAck,
                            window: UInt16 = 502, options: [OptionSpec]? = nil) -> PeerSegment
    {
        data(Array(text.utf8), seq: seq, ack: ack, flags: flags, window: window, options: options)
    }

    /// A FIN with ACK.
    public static func fin(seq: SeqValue, ack: SeqValue, window: UInt16 = 502, options: [OptionSpec]? = nil) -> PeerSegment {
        PeerSegment(flags: .finAck, seq: seq, ack: ack, window: window, options: options)
    }

    /// A RST without ACK.
    public static func rst(seq: SeqValue) -> PeerSegment {
        PeerSegment(flags: .rst, seq: seq, window: 0, options: [])
    }

    /// A RST with ACK.
    public static func rstAck(seq: SeqValue, ack: SeqValue) -> PeerSegment {
        PeerSegment(flags: .rstAck, seq: seq, ack: ack, window: 0, options: [])
    }
}

/// Where a harness check failed and why; `description` leads with `file:line`.
public struct HarnessFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var fileID: String
    public var filePath: String
    public var line: Int
    public var column: Int

    public var description: String { "\(fileID):\(line): \(message)" }
}

/// A frame the host sent, with the virtual time it left.
public struct CapturedFrame: Sendable {
    public var time: Instant
    public var interface: Int
    public var frame: Frame
}

/// A segment the host sent, as `expectSent` returns it.
public struct SentSegment: Sendable {
    public var time: Instant
    public var segment: TCPSegment
    /// Relative sequence number (from the host's ISN), when the peer is known.
    public var relativeSeq: Int64?
    /// Relative acknowledgment number (from the peer's ISN), when the peer is known.
    public var relativeAck: Int64?

    public var header: TCPHeader { segment.tcp }
    public var flags: TCPFlags { segment.tcp.flags }
    public var payload: [UInt8] { segment.payload }
    /// The TSval of the timestamps option, if any.
    public var tsVal: UInt32? { segment.tcp.options.timestamps?.value }
    /// The TSecr of the timestamps option, if any.
    public var tsEcr: UInt32? { segment.tcp.options.timestamps?.echoReply }
}

/// The far end of a conversation with the host under test: an address, a port, an ISN and a TS clock.
/// It builds frames addressed to the host's MAC and IP and feeds them to `Host.receive(frame:on:at:)`.
public final class ScriptedPeer {
    public unowned let harness: HostHarness
    public let address: IPv4Address
    public let mac: MACAddress
    public let port: UInt16
    /// The host's port in this conversation: given, or learnt from the host's first segment to the peer.
    public var hostPort: UInt16?
    /// The peer's ISN: relative sequence numbers it sends count from here.
    public var isn: SequenceNumber
    /// The host's ISN, learnt from its first SYN or SYN-ACK to this peer (or set by the test).
    public var hostISN: SequenceNumber?
    /// Added to the harness's millisecond clock to make this peer's TSvals.
    public var tsOffset: UInt32
    /// The latest TSval the host sent to this peer.
    public var lastHostTSval: UInt32?
    /// Whether the peer's segments carry timestamps by default (its SYN offered them and the host's
    /// SYN or SYN-ACK carried them too).
    public var timestampsOn: Bool { peerSentTimestamps && hostSentTimestamps }
    var peerSentTimestamps = false
    var hostSentTimestamps = false

    init(harness: HostHarness, address: IPv4Address, mac: MACAddress, port: UInt16, hostPort: UInt16?,
         isn: SequenceNumber, tsOffset: UInt32) {
        self.harness = harness
        self.address = address
        self.mac = mac
        self.port = port
        self.hostPort = hostPort
        self.isn = isn
        self.tsOffset = tsOffset
    }

    /// The peer's socket address.
    public var socketAddress: SocketAddress { SocketAddress(address, port) }

    /// The peer's TS clock now (what `.ts()` sends as TSval).
    public var tsVal: UInt32 { UInt32(truncatingIfNeeded: harness.now.milliseconds) &+ tsOffset }

    /// The absolute value of the peer's relative sequence number `relative` (ISN + relative).
    public func seq(_ relative: Int64) -> SequenceNumber { isn + UInt32(truncatingIfNeeded: relative) }

    /// The absolute value of the host's relative sequence number `relative` (host ISN + relative); nil
    /// while the host's ISN is unknown.
    public func hostSeq(_ relative: Int64) -> SequenceNumber? {
        hostISN.map { $0 + UInt32(truncatingIfNeeded: relative) }
    }

    /// Forgets what was learnt about the host's side (ISN, port unless given, TS), for a new connection
    /// from the same address and port.
    public func newConnection(isn: SequenceNumber? = nil, keepHostPort: Bool = true) {
        if let isn { self.isn = isn }
        hostISN = nil
        lastHostTSval = nil
        peerSentTimestamps = false
        hostSentTimestamps = false
        if !keepHostPort { hostPort = nil }
    }

    /// Sends `segment` to the host now.
    public func sends(_ segment: PeerSegment, fileID: String = #fileID, filePath: String = #filePath,
                      line: Int = #line, column: Int = #column)
    {
        let fail = { [harness] (message: String) in
            harness.fail(message, fileID: fileID, filePath: filePath, line: line, column: column)
        }
        guard let hostPort else {
            return fail("peer \(socketAddress) does not know the host's port yet: make the host send to it first, "
                        + "or create the peer with `hostPort:`")
        }
        let seq = segment.seq.resolve(isn: isn)!
        var ack = SequenceNumber(0)
        if let spec = segment.ack {
            guard let a = spec.resolve(isn: hostISN) else {
                return fail("ack \(spec) is relative to the host's ISN, which peer \(socketAddress) has not seen yet: "
                            + "use `.absolute(...)` or expect the host's SYN/SYN-ACK first")
            }
            ack = a
        }
        if segment.flags.contains(.syn) {
            peerSentTimestamps = segment.options?.contains { if case .ts = $0 { true } else { false } } ?? false
        }
        let specs = segment.options ?? (timestampsOn ? [.nop, .nop, .ts()] : [])
        let options: [TCPOption] = specs.map { spec in
            switch spec {
            case let .mss(v): .maxSegmentSize(v)
            case .sackOK: .sackPermitted
            case .nop: .noOperation
            case let .wscale(v): .windowScale(v)
            case let .ts(val, ecr): .timestamps(value: val ?? tsVal, echoReply: ecr ?? lastHostTSval ?? 0)
            case .eol: .endOfList
            case let .sack(blocks): .sack(blocks)
            case let .raw(option): option
            }
        }
        let header = TCPHeader(sourcePort: port, destinationPort: hostPort, sequenceNumber: seq, acknowledgmentNumber: ack,
                               flags: segment.flags, window: segment.window, options: TCPOptionList(options))
        let tcp = TCPSegment(ip: IPv4Header(source: address, destination: harness.hostAddress), tcp: header,
                             payload: segment.payload)
        harness.deliver(Frame(ethernet: EthernetHeader(destination: harness.hostMAC, source: mac, etherType: .ipv4),
                              payload: .tcp(tcp)))
    }

    /// Sends an ARP request asking for the host's MAC (broadcast, as `arping` would).
    public func sendsARPRequest() {
        let arp = ARPPacket(operation: .request, senderMAC: mac, senderIP: address, targetMAC: .zero,
                            targetIP: harness.hostAddress)
        harness.deliver(Frame(ethernet: EthernetHeader(destination: .broadcast, source: mac, etherType: .arp),
                              payload: .arp(arp)))
    }

    /// Answers the host's ARP request for this peer's address.
    public func sendsARPReply() {
        let arp = ARPPacket(operation: .reply, senderMAC: mac, senderIP: address, targetMAC: harness.hostMAC,
                            targetIP: harness.hostAddress)
        harness.deliver(Frame(ethernet: EthernetHeader(destination: harness.hostMAC, source: mac, etherType: .arp),
                              payload: .arp(arp)))
    }

    /// Learns from a segment the host sent to this peer.
    func observe(_ seg: TCPSegment) {
        if hostPort == nil { hostPort = seg.tcp.sourcePort }
        if let ts = seg.tcp.options.timestamps { lastHostTSval = ts.value }
        if seg.tcp.flags.contains(.syn) {
            if hostISN == nil { hostISN = seg.tcp.sequenceNumber }
            hostSentTimestamps = seg.tcp.options.timestamps != nil
        }
    }
}

/// One `Host` under test with scripted peers on its first interface, a virtual clock starting at zero,
/// and expectations on every frame the host sends.
///
/// Failures go to `onFailure` (set it to `Issue.record` in a Swift Testing suite) and are kept in
/// `failures`; every check names the caller's file and line.
public final class HostHarness {
    public let host: Host
    /// The interface the peers are attached to.
    public let interface: Int
    /// The virtual time.
    public private(set) var now: Instant = .zero
    /// The peer the harness starts with: 198.18.0.1:40000, talking to the host's port 80.
    public private(set) var peer: ScriptedPeer!
    public private(set) var peers: [ScriptedPeer] = []
    /// Every frame the host ever sent, oldest first.
    public private(set) var sent: [CapturedFrame] = []
    /// Frames sent and not yet consumed by an expectation.
    public private(set) var pending: [CapturedFrame] = []
    /// Every event the host recorded, oldest first.
    public private(set) var events: [EngineEvent] = []
    /// Where failed checks go (besides `failures`).
    public var onFailure: (HarnessFailure) -> Void = { print($0) }
    public private(set) var failures: [HarnessFailure] = []

    /// At most this many timer runs per `advance` (a timer loop is a bug, not a hang).
    public var maxPollsPerAdvance = 1_000_000
    /// Send every frame through its bytes: the peers' frames are serialized and fed to
    /// `Host.receive(bytes:on:at:)`, and the host's are serialized and parsed back with their
    /// checksums verified (a frame that does not survive is a failure).
    public var viaBytes = false

    /// A harness around a fresh host at 198.18.0.2/24 (MAC 02:00:00:00:00:02) with Linux's policies
    /// unless given.
    public convenience init(sysctl: Sysctls = Sysctls(), seed: UInt64 = 1, isn: (any ISNGenerator)? = nil,
                            acceptQueue: (any AcceptQueuePolicy)? = nil, delayedAck: (any DelayedAckPolicy)? = nil,
                            peerISN: UInt32 = 1_000_000)
    {
        let host = Host(name: "host", interfaces: [Interface(mac: MACAddress(2, 0, 0, 0, 0, 2),
                                                            address: IPv4Interface(address: IPv4Address(198, 18, 0, 2),
                                                                                   prefixLength: 24))],
                        sysctl: sysctl, seed: seed, isn: isn, acceptQueue: acceptQueue, delayedAck: delayedAck)
        self.init(host: host, peerISN: peerISN)
    }

    /// A harness around `host`, whose `interface` the peers talk to.
    public init(host: Host, interface: Int = 0, peerISN: UInt32 = 1_000_000) {
        self.host = host
        self.interface = interface
        peer = makePeer(address: IPv4Address(198, 18, 0, 1), port: 40000, hostPort: 80, isn: peerISN)
    }

    public var hostAddress: IPv4Address { host.interfaces[interface].address.address }
    public var hostMAC: MACAddress { host.interfaces[interface].mac }
    /// Virtual time since the start.
    public var elapsed: Interval { now - Instant.zero }

    /// A new peer.
    /// - Parameters:
    ///   - address: on the host's subnet; 198.18.0.1 by default.
    ///   - mac: derived from the address when nil.
    ///   - hostPort: the host's port; nil to learn it from the host's first segment (the host connects).
    ///   - isn: the peer's ISN.
    ///   - resolved: add the peer to the host's ARP table, so no ARP is involved.
    public func makePeer(address: IPv4Address = IPv4Address(198, 18, 0, 1), port: UInt16, mac: MACAddress? = nil,
                         hostPort: UInt16? = nil, isn: UInt32 = 1_000_000, tsOffset: UInt32 = 10_000,
                         resolved: Bool = true) -> ScriptedPeer
    {
        let mac = mac ?? MACAddress(rawValue: 0x0200_0000_0000 | UInt64(address.rawValue))
        let p = ScriptedPeer(harness: self, address: address, mac: mac, port: port, hostPort: hostPort,
                             isn: SequenceNumber(isn), tsOffset: tsOffset)
        peers.append(p)
        if resolved { host.addNeighbor(address, mac) }
        return p
    }

    // MARK: Time

    /// Moves the clock forward by `interval`, running the host's timers at their exact deadlines.
    public func advance(by interval: Interval, fileID: String = #fileID, filePath: String = #filePath,
                        line: Int = #line, column: Int = #column)
    {
        advance(to: now + interval, fileID: fileID, filePath: filePath, line: line, column: column)
    }

    /// Moves the clock to `elapsed` since the start (never back).
    public func advance(to elapsed: Interval, fileID: String = #fileID, filePath: String = #filePath,
                        line: Int = #line, column: Int = #column)
    {
        advance(to: Instant.zero + elapsed, fileID: fileID, filePath: filePath, line: line, column: column)
    }

    /// Moves the clock to `target` (never back), running the host's timers at their exact deadlines.
    public func advance(to target: Instant, fileID: String = #fileID, filePath: String = #filePath,
                        line: Int = #line, column: Int = #column)
    {
        collect()
        var polls = 0
        while host.nextDeadline <= target, host.nextDeadline != .never {
            polls += 1
            if polls > maxPollsPerAdvance {
                fail("more than \(maxPollsPerAdvance) timer runs before \(target): a timer that re-arms itself "
                     + "at once (look at the last timerArmed events), or raise maxPollsPerAdvance",
                     fileID: fileID, filePath: filePath, line: line, column: column)
                break
            }
            if now < host.nextDeadline { now = host.nextDeadline }
            host.poll(at: now)
            collect()
        }
        if now < target { now = target }
    }

    // MARK: Socket calls at the current time

    public func listen(port: UInt16 = 80, address: IPv4Address = .any, backlog: Int, options: SocketOptions = SocketOptions())
        throws(SocketError) -> SocketID
    {
        defer { collect() }
        return try host.listen(port: port, address: address, backlog: backlog, options: options, at: now)
    }

    /// connect() to `peer`'s address and port.
    public func connect(to peer: ScriptedPeer, localPort: UInt16? = nil, options: SocketOptions = SocketOptions())
        throws(SocketError) -> SocketID
    {
        defer { collect() }
        return try host.connect(to: peer.socketAddress, localPort: localPort, options: options, at: now)
    }

    public func accept(_ listener: SocketID, blocking: Bool? = false) throws(SocketError) -> SocketID? {
        defer { collect() }
        return try host.accept(listener, blocking: blocking, at: now)
    }

    @discardableResult
    public func send(_ socket: SocketID, _ text: String) throws(SocketError) -> Int {
        defer { collect() }
        return try host.send(socket, Array(text.utf8), at: now)
    }

    @discardableResult
    public func send(_ socket: SocketID, _ bytes: [UInt8]) throws(SocketError) -> Int {
        defer { collect() }
        return try host.send(socket, bytes, at: now)
    }

    public func shutdown(_ socket: SocketID, _ how: ShutdownHow) throws(SocketError) {
        defer { collect() }
        try host.shutdown(socket, how, at: now)
    }

    public func receive(_ socket: SocketID, max: Int = Int.max) throws(SocketError) -> [UInt8] {
        defer { collect() }
        return try host.receive(socket, max: max, at: now)
    }

    public func setsockopt(_ socket: SocketID, _ option: SocketOption) throws(SocketError) {
        defer { collect() }
        try host.setsockopt(socket, option, at: now)
    }

    public func close(_ socket: SocketID) {
        host.close(socket, at: now)
        collect()
    }

    // MARK: Expectations

    /// Takes the next frame the host sent and checks it is a TCP segment with these fields. Nil fields
    /// are not checked; `options` must match option by option; `at` is the time since the start.
    /// - Parameter to: the peer it must be addressed to (any known peer, or none, when nil).
    /// - Returns: the segment, or nil when there was none.
    @discardableResult
    public func expectSent(flags: TCPFlags, seq: SeqValue? = nil, ack: SeqValue? = nil, window: UInt16? = nil,
                           options: [OptionSpec]? = nil, payload: [UInt8]? = nil, at time: Interval? = nil,
                           to expectedPeer: ScriptedPeer? = nil,
                           fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column)
        -> SentSegment?
    {
        collect()
        let fail = { (message: String) in self.fail(message, fileID: fileID, filePath: filePath, line: line, column: column) }
        guard !pending.isEmpty else {
            fail("expected the host to send [\(flags.tcpdumpString)] by \(elapsed), but it sent nothing"
                 + recentHistory())
            return nil
        }
        let captured = pending.removeFirst()
        guard let seg = captured.frame.tcpSegment else {
            fail("expected a TCP segment [\(flags.tcpdumpString)], got \(describe(captured))")
            return nil
        }
        let p = peerFor(seg)
        var problems: [String] = []
        if let expectedPeer, p !== expectedPeer {
            problems.append("sent to \(seg.destination), expected \(expectedPeer.socketAddress)")
        }
        if seg.tcp.flags != flags {
            problems.append("flags [\(seg.tcp.flags.tcpdumpString)], expected [\(flags.tcpdumpString)]")
        }
        if let seq {
            let want = seq.resolve(isn: p?.hostISN)
            if want != seg.tcp.sequenceNumber {
                problems.append("seq \(relative(seg.tcp.sequenceNumber, p?.hostISN)), expected \(seq)")
            }
        }
        if let ack {
            let want = ack.resolve(isn: p?.isn)
            if want != seg.tcp.acknowledgmentNumber {
                problems.append("ack \(relative(seg.tcp.acknowledgmentNumber, p?.isn)), expected \(ack)")
            }
        }
        if let window, window != seg.tcp.window { problems.append("win \(seg.tcp.window), expected \(window)") }
        if let options {
            let got = seg.tcp.options
            if got.count != options.count || !zip(options, got).allSatisfy({ $0.matches($1) }) {
                problems.append("options [\(got.map(\.tcpdumpString).joined(separator: ","))], expected ["
                                + options.map(\.description).joined(separator: ",") + "]")
            }
        }
        if let payload, payload != seg.payload {
            problems.append("payload of \(seg.payload.count) bytes \(seg.payload.prefix(16)), expected \(payload.count) bytes "
                            + "\(payload.prefix(16))")
        }
        if let time, captured.time != Instant.zero + time {
            problems.append("sent at \(captured.time - Instant.zero), expected at \(time)")
        }
        if !problems.isEmpty { fail(problems.joined(separator: "; ") + "\n  got: " + describe(captured)) }
        return SentSegment(time: captured.time, segment: seg,
                           relativeSeq: p?.hostISN.map { Int64(seg.tcp.sequenceNumber - $0) },
                           relativeAck: p.map { Int64(seg.tcp.acknowledgmentNumber - $0.isn) })
    }

    /// Checks the host has sent nothing that no expectation took yet.
    public func expectNothing(fileID: String = #fileID, filePath: String = #filePath, line: Int = #line, column: Int = #column) {
        collect()
        guard !pending.isEmpty else { return }
        fail("expected the host to send nothing by \(elapsed), but it sent:\n"
             + pending.map { "  " + describe($0) }.joined(separator: "\n"),
             fileID: fileID, filePath: filePath, line: line, column: column)
        pending.removeAll()
    }

    /// Takes the next frame and checks it is an ARP request for `target`, broadcast.
    @discardableResult
    public func expectARPRequest(for target: IPv4Address, at time: Interval? = nil, fileID: String = #fileID,
                                 filePath: String = #filePath, line: Int = #line, column: Int = #column) -> ARPPacket?
    {
        expectARP(.request, time: time, fileID: fileID, filePath: filePath, line: line, column: column) { arp, eth in
            arp.targetIP == target && eth.destination == .broadcast && arp.senderIP == self.hostAddress
                && arp.senderMAC == self.hostMAC
        }
    }

    /// Takes the next frame and checks it is an ARP reply to `peer` saying the host's IP is at its MAC.
    @discardableResult
    public func expectARPReply(to peer: ScriptedPeer, at time: Interval? = nil, fileID: String = #fileID,
                               filePath: String = #filePath, line: Int = #line, column: Int = #column) -> ARPPacket?
    {
        expectARP(.reply, time: time, fileID: fileID, filePath: filePath, line: line, column: column) { arp, eth in
            arp.senderIP == self.hostAddress && arp.senderMAC == self.hostMAC && arp.targetIP == peer.address
                && arp.targetMAC == peer.mac && eth.destination == peer.mac
        }
    }

    private func expectARP(_ op: ARPPacket.Operation, time: Interval?, fileID: String, filePath: String, line: Int,
                           column: Int, _ check: (ARPPacket, EthernetHeader) -> Bool) -> ARPPacket?
    {
        collect()
        let fail = { (message: String) in self.fail(message, fileID: fileID, filePath: filePath, line: line, column: column) }
        guard !pending.isEmpty else {
            fail("expected an ARP \(op) by \(elapsed), but the host sent nothing" + recentHistory())
            return nil
        }
        let captured = pending.removeFirst()
        guard let arp = captured.frame.arp, arp.operation == op, check(arp, captured.frame.ethernet) else {
            fail("expected an ARP \(op), got \(describe(captured))")
            return nil
        }
        if let time, captured.time != Instant.zero + time {
            fail("ARP \(op) sent at \(captured.time - Instant.zero), expected at \(time)")
        }
        return arp
    }

    /// Takes every frame not yet consumed (for checks the expectations do not cover).
    public func takePending() -> [CapturedFrame] {
        collect()
        defer { pending.removeAll() }
        return pending
    }

    /// Takes the events recorded since the last call (and keeps them in `events`).
    public func takeEvents() -> [EngineEvent] {
        collect()
        defer { eventCursor = events.count }
        return Array(events[eventCursor...])
    }

    private var eventCursor = 0

    // MARK: Plumbing

    func deliver(_ frame: Frame) {
        collect()
        if viaBytes {
            host.receive(bytes: frame.serialize(), on: interface, at: now)
        } else {
            host.receive(frame: frame, on: interface, at: now)
        }
        collect()
    }

    /// Moves what the host sent and recorded into the harness.
    func collect() {
        for out in host.takeOutput() {
            var frame = out.frame
            if viaBytes {
                do {
                    frame = try Frame.parse(frame.serialize())
                } catch {
                    fail("the host sent a frame that does not parse back from its bytes (\(error)): \(frame.tcpdumpLine)",
                         fileID: #fileID, filePath: #filePath, line: #line, column: #column)
                }
            }
            let c = CapturedFrame(time: now, interface: out.interface, frame: frame)
            if let seg = c.frame.tcpSegment { peerFor(seg)?.observe(seg) }
            sent.append(c)
            pending.append(c)
        }
        events += host.takeEvents()
    }

    func fail(_ message: String, fileID: String, filePath: String, line: Int, column: Int) {
        let f = HarnessFailure(message: message, fileID: fileID, filePath: filePath, line: line, column: column)
        failures.append(f)
        onFailure(f)
    }

    private func peerFor(_ seg: TCPSegment) -> ScriptedPeer? {
        peers.first {
            $0.address == seg.ip.destination && $0.port == seg.tcp.destinationPort
                && ($0.hostPort == nil || $0.hostPort == seg.tcp.sourcePort)
        }
    }

    private func relative(_ value: SequenceNumber, _ isn: SequenceNumber?) -> String {
        guard let isn else { return "absolute \(value)" }
        return "\(value - isn) (absolute \(value))"
    }

    /// `at 1s: 198.18.0.2.80 > 198.18.0.1.40000: Flags [S.], seq 0, ack 1, …` with relative numbers.
    public func describe(_ c: CapturedFrame) -> String {
        guard let seg = c.frame.tcpSegment else { return "at \(c.time - Instant.zero): \(c.frame.tcpdumpLine)" }
        let p = peerFor(seg)
        var header = seg.tcp
        let hostISN = p?.hostISN ?? (seg.tcp.flags.contains(.syn) ? seg.tcp.sequenceNumber : nil)
        if let hostISN { header.sequenceNumber = SequenceNumber(header.sequenceNumber.rawValue &- hostISN.rawValue) }
        if let p, header.flags.contains(.ack) {
            header.acknowledgmentNumber = SequenceNumber(header.acknowledgmentNumber.rawValue &- p.isn.rawValue)
        }
        let numbers = hostISN != nil || p != nil ? " (relative)" : ""
        return "at \(c.time - Instant.zero): IP \(seg.ip.source).\(seg.tcp.sourcePort) > \(seg.ip.destination)."
            + "\(seg.tcp.destinationPort): \(header.tcpdumpDescription(payloadLength: seg.payload.count))\(numbers)"
    }

    private func recentHistory() -> String {
        let recent = sent.suffix(3)
        guard !recent.isEmpty else { return "" }
        return "\n  last frames sent:\n" + recent.map { "  " + describe($0) }.joined(separator: "\n")
    }
}
