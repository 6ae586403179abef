// Derived mechanically from Fixtures/linux-6.18-handshake.pcap (frame bytes from the
// pcap records, text from `tcpdump -nn -S -r`). A new run of
// Fixtures/capture-golden-frames.sh gives new ISNs/TS values/IP IDs, so this file
// must be re-derived together with the pcap, never edited by hand.

/// A reference Ethernet frame emitted by a real Linux kernel.
struct GoldenFrame: Sendable, Equatable {
    /// Identifier, matching the `GoldenFrames` property name.
    let name: String
    /// The whole Ethernet frame (dst MAC … end of payload; no FCS, no padding), lowercase hex.
    let hex: String
    /// What `tcpdump -nn -S -r` prints after the address prefix:
    /// for TCP, the text after `IP a.b.c.d.port > e.f.g.h.port: `;
    /// for ARP, the text after `ARP, `.
    let tcpdump: String
    /// The full `tcpdump -nn -S -r` line after the timestamp (starts with `IP ` or `ARP, `).
    let line: String
}

/// Golden frames captured from the Linux kernel's own TCP/IP stack.
///
/// How they were captured (2026-11-21, kernel `6.18.44-fc-v657`, x86_64, tcpdump 4.99.3 / libpcap 1.10.3):
///
/// - `Fixtures/capture-golden-frames.sh` (run as root) creates network namespaces
///   `tl-golden-a` and `tl-golden-b` joined by one veth pair:
///   a = `tlg-a`, 02:00:00:00:00:01, 198.18.0.1/24; b = `tlg-b`, 02:00:00:00:00:02, 198.18.0.2/24.
/// - IPv6 disabled on both interfaces (`net.ipv6.conf.<if>.disable_ipv6=1`), and TX checksum
///   offload turned off on both (`ethtool -K <if> tx off`), so every IPv4/TCP/UDP checksum in
///   these frames is final and correct (verified with tshark `ip/tcp/udp.check_checksum:TRUE`
///   and `tcpdump -vv`: no bad / malformed / incorrect).
/// - Capture: `tcpdump -i tlg-b -w … -U` inside b, so both directions are seen on b's side.
/// - All other sysctls are the kernel's fresh-namespace defaults: `tcp_timestamps=1`
///   (random per-connection TS offset), `tcp_sack=1`, `tcp_window_scaling=1`,
///   `tcp_ecn=2` (ECN only when asked, so SYNs carry no ECE/CWR), `tcp_syncookies=1`,
///   `tcp_rmem=4096 131072 33554432`, `tcp_wmem=4096 16384 4194304`, MTU 1500.
///   ISNs, TS values and IP IDs are therefore random per capture.
/// - Sequence: (1) empty neighbour tables, a sends one UDP datagram to 198.18.0.2:9 → ARP
///   request/reply (then UDP + ICMP port unreachable, which are in the pcap but not here);
///   neighbours then replaced by static `nud permanent` entries, so no further ARP.
///   (2) Python client in a bound to 198.18.0.1:40000 connects to a Python server on
///   198.18.0.2:8080, sends "hello", waits 0.5 s, close(); the server reads 5 bytes, reads
///   EOF, close(). (3) a:40001 connects to b:8081 where nothing listens → RST+ACK.
///   (4) a:40002 connects to b:8082, then close() with SO_LINGER {1, 0} → RST+ACK.
/// - Frames shorter than 60 bytes (ARP: 42, bare RST: 54) are NOT padded: veth adds no
///   Ethernet padding and the capture has no FCS.
enum GoldenFrames {
    /// #1 in the pcap. a → broadcast: ARP who-has 198.18.0.2 (neighbour table empty; triggered by a UDP datagram to 198.18.0.2:9).
    static let arpRequest = GoldenFrame(
        name: "arpRequest",
        hex: "ffffffffffff02000000000108060001080006040001020000000001c6120001000000000000c6120002",
        tcpdump: "Request who-has 198.18.0.2 tell 198.18.0.1, length 28",
        line: "ARP, Request who-has 198.18.0.2 tell 198.18.0.1, length 28"
    )

    /// #2 in the pcap. b → a: ARP reply 198.18.0.2 is-at 02:00:00:00:00:02.
    static let arpReply = GoldenFrame(
        name: "arpReply",
        hex: "02000000000102000000000208060001080006040002020000000002c6120002020000000001c6120001",
        tcpdump: "Reply 198.18.0.2 is-at 02:00:00:00:00:02, length 28",
        line: "ARP, Reply 198.18.0.2 is-at 02:00:00:00:00:02, length 28"
    )

    /// #5 in the pcap. a:40000 → b:8080: SYN (mss 1460, sackOK, TS, nop, wscale 10; win 64240).
    static let syn = GoldenFrame(
        name: "syn",
        hex: "02000000000202000000000108004500003c1116400040069d7ec6120001c61200029c401f90624e5cb600000000a002faf05a620000020405b40402080a9420578c000000000103030a",
        tcpdump: "Flags [S], seq 1649302710, win 64240, options [mss 1460,sackOK,TS val 2485147532 ecr 0,nop,wscale 10], length 0",
        line: "IP 198.18.0.1.40000 > 198.18.0.2.8080: Flags [S], seq 1649302710, win 64240, options [mss 1460,sackOK,TS val 2485147532 ecr 0,nop,wscale 10], length 0"
    )

    /// #6 in the pcap. b:8080 → a:40000: SYN+ACK (win 65160, wscale 10).
    static let synAck = GoldenFrame(
        name: "synAck",
        hex: "02000000000102000000000208004500003c000040004006ae94c6120002c61200011f909c4079c7c257624e5cb7a012fe8882d90000020405b40402080a28b06f109420578c0103030a",
        tcpdump: "Flags [S.], seq 2043134551, ack 1649302711, win 65160, options [mss 1460,sackOK,TS val 682651408 ecr 2485147532,nop,wscale 10], length 0",
        line: "IP 198.18.0.2.8080 > 198.18.0.1.40000: Flags [S.], seq 2043134551, ack 1649302711, win 65160, options [mss 1460,sackOK,TS val 682651408 ecr 2485147532,nop,wscale 10], length 0"
    )

    /// #7 in the pcap. a:40000 → b:8080: ACK completing the handshake (win 63, i.e. 63 << 10).
    static let thirdAck = GoldenFrame(
        name: "thirdAck",
        hex: "0200000000020200000000010800450000341117400040069d85c6120001c61200029c401f90624e5cb779c7c2588010003faff200000101080a9420578c28b06f10",
        tcpdump: "Flags [.], ack 2043134552, win 63, options [nop,nop,TS val 2485147532 ecr 682651408], length 0",
        line: "IP 198.18.0.1.40000 > 198.18.0.2.8080: Flags [.], ack 2043134552, win 63, options [nop,nop,TS val 2485147532 ecr 682651408], length 0"
    )

    /// #8 in the pcap. a:40000 → b:8080: PSH+ACK carrying the 5 bytes "hello". (tcpdump appends ": HTTP" because of port 8080.)
    static let data = GoldenFrame(
        name: "data",
        hex: "0200000000020200000000010800450000391118400040069d7fc6120001c61200029c401f90624e5cb779c7c2588018003f6b4b00000101080a9420585428b06f1068656c6c6f",
        tcpdump: "Flags [P.], seq 1649302711:1649302716, ack 2043134552, win 63, options [nop,nop,TS val 2485147732 ecr 682651408], length 5: HTTP",
        line: "IP 198.18.0.1.40000 > 198.18.0.2.8080: Flags [P.], seq 1649302711:1649302716, ack 2043134552, win 63, options [nop,nop,TS val 2485147732 ecr 682651408], length 5: HTTP"
    )

    /// #9 in the pcap. b:8080 → a:40000: pure ACK of "hello" (win 64).
    static let dataAck = GoldenFrame(
        name: "dataAck",
        hex: "020000000001020000000002080045000034deed40004006cfaec6120002c61200011f909c4079c7c258624e5cbc80100040ae5c00000101080a28b06fd894205854",
        tcpdump: "Flags [.], ack 1649302716, win 64, options [nop,nop,TS val 682651608 ecr 2485147732], length 0",
        line: "IP 198.18.0.2.8080 > 198.18.0.1.40000: Flags [.], ack 1649302716, win 64, options [nop,nop,TS val 682651608 ecr 2485147732], length 0"
    )

    /// #10 in the pcap. a:40000 → b:8080: FIN+ACK (client close()).
    static let fin = GoldenFrame(
        name: "fin",
        hex: "0200000000020200000000010800450000341119400040069d83c6120001c61200029c401f90624e5cbc79c7c2588011003fac6700000101080a94205a4928b06fd8",
        tcpdump: "Flags [F.], seq 1649302716, ack 2043134552, win 63, options [nop,nop,TS val 2485148233 ecr 682651608], length 0",
        line: "IP 198.18.0.1.40000 > 198.18.0.2.8080: Flags [F.], seq 1649302716, ack 2043134552, win 63, options [nop,nop,TS val 2485148233 ecr 682651608], length 0"
    )

    /// #11 in the pcap. b:8080 → a:40000: FIN+ACK (server close() after reading EOF; it also ACKs the client FIN — no separate ACK was sent).
    static let serverFin = GoldenFrame(
        name: "serverFin",
        hex: "020000000001020000000002080045000034deee40004006cfadc6120002c61200011f909c4079c7c258624e5cbd80110040aa7000000101080a28b071cd94205a49",
        tcpdump: "Flags [F.], seq 2043134552, ack 1649302717, win 64, options [nop,nop,TS val 682652109 ecr 2485148233], length 0",
        line: "IP 198.18.0.2.8080 > 198.18.0.1.40000: Flags [F.], seq 2043134552, ack 1649302717, win 64, options [nop,nop,TS val 682652109 ecr 2485148233], length 0"
    )

    /// #12 in the pcap. a:40000 → b:8080: final ACK of the server FIN.
    static let lastAck = GoldenFrame(
        name: "lastAck",
        hex: "020000000002020000000001080045000034111a400040069d82c6120001c61200029c401f90624e5cbd79c7c2598010003faa7100000101080a94205a4928b071cd",
        tcpdump: "Flags [.], ack 2043134553, win 63, options [nop,nop,TS val 2485148233 ecr 682652109], length 0",
        line: "IP 198.18.0.1.40000 > 198.18.0.2.8080: Flags [.], ack 2043134553, win 63, options [nop,nop,TS val 2485148233 ecr 682652109], length 0"
    )

    /// #13 in the pcap. a:40001 → b:8081: SYN to a port nobody listens on.
    static let refusedSyn = GoldenFrame(
        name: "refusedSyn",
        hex: "02000000000202000000000108004500003c8294400040062c00c6120001c61200029c411f91b651429400000000a002faf03cea0000020405b40402080a1d7fb1c2000000000103030a",
        tcpdump: "Flags [S], seq 3058778772, win 64240, options [mss 1460,sackOK,TS val 494907842 ecr 0,nop,wscale 10], length 0",
        line: "IP 198.18.0.1.40001 > 198.18.0.2.8081: Flags [S], seq 3058778772, win 64240, options [mss 1460,sackOK,TS val 494907842 ecr 0,nop,wscale 10], length 0"
    )

    /// #14 in the pcap. b:8081 → a:40001: RST+ACK from b's kernel (seq 0, ack = SYN seq + 1, win 0, no options, 54-byte frame).
    static let rst = GoldenFrame(
        name: "rst",
        hex: "020000000001020000000002080045000028000040004006aea8c6120002c61200011f919c4100000000b6514295501400006eef0000",
        tcpdump: "Flags [R.], seq 0, ack 3058778773, win 0, length 0",
        line: "IP 198.18.0.2.8081 > 198.18.0.1.40001: Flags [R.], seq 0, ack 3058778773, win 0, length 0"
    )

    /// #18 in the pcap. a:40002 → b:8082: RST+ACK from close() with SO_LINGER {1, 0} on an established connection (carries TS option and win 63).
    static let lingerRst = GoldenFrame(
        name: "lingerRst",
        hex: "0200000000020200000000010800450000347dac4000400630f0c6120001c61200029c421f925f93aba0af51981e8014003f31b700000101080a3e7683e15b928c38",
        tcpdump: "Flags [R.], seq 1603513248, ack 2941360158, win 63, options [nop,nop,TS val 1047954401 ecr 1536330808], length 0",
        line: "IP 198.18.0.1.40002 > 198.18.0.2.8082: Flags [R.], seq 1603513248, ack 2941360158, win 63, options [nop,nop,TS val 1047954401 ecr 1536330808], length 0"
    )

    /// Every golden frame above, in capture order.
    static let all: [GoldenFrame] = [
        arpRequest,
        arpReply,
        syn,
        synAck,
        thirdAck,
        data,
        dataAck,
        fin,
        serverFin,
        lastAck,
        refusedSyn,
        rst,
        lingerRst,
    ]
}
