import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import LabReport
import Testing

/// The package root, from this file's path (Tests/LabReportTests/LadderTests.swift).
let packageRoot: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

let kernelFixture = "\(packageRoot)/Tests/TCPWireTests/Fixtures/linux-6.18-handshake.pcap"

/// A trace of `n` segments between a client and a server through a middlebox, every 7th one dropped.
func syntheticTrace(_ n: Int) -> (segments: [TraceSegment], states: [TraceState]) {
    var segments: [TraceSegment] = []
    var seqC: UInt32 = 4_294_967_200, seqS: UInt32 = 1000
    segments.append(TraceSegment(t: 0, node: "client", dir: "out", src: "198.18.0.1:40000", dst: "198.18.0.2:80", flags: "S",
                                 seq: seqC, ack: nil, win: 64240, len: 0, options: "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 10"))
    segments.append(TraceSegment(t: 100_000, node: "server", dir: "out", src: "198.18.0.2:80", dst: "198.18.0.1:40000", flags: "S.",
                                 seq: seqS, ack: seqC &+ 1, win: 65160, len: 0, options: "mss 1460,sackOK,TS val 2 ecr 1,nop,wscale 10"))
    seqC &+= 1
    seqS &+= 1
    var t: Int64 = 200_000
    for k in 2..<n {
        let fromClient = k % 2 == 0
        let s = TraceSegment(t: t, node: fromClient ? "client" : "server", dir: "out",
                             src: fromClient ? "198.18.0.1:40000" : "198.18.0.2:80", dst: fromClient ? "198.18.0.2:80" : "198.18.0.1:40000",
                             flags: fromClient ? "P." : ".", seq: fromClient ? seqC : seqS, ack: fromClient ? seqS : seqC,
                             win: 63, len: fromClient ? 100 : 0, options: "nop,nop,TS val \(k) ecr \(k - 1)")
        segments.append(s)
        if k % 7 == 0 {
            var d = s
            d.node = "mbox"
            d.dir = "drop"
            d.droppedBy = "drop every 7th"
            segments.append(d)
        } else {
            if fromClient { seqC &+= 100 }
        }
        t += k % 50 == 0 ? 3_000_000_000 : 1_000_000
    }
    let states = [TraceState(t: 0, node: "client", text: "SYN_SENT (connect())"),
                  TraceState(t: 150_000, node: "client", text: "ESTABLISHED (SYN-ACK received)")]
    return (segments, states)
}

let threeLifelines = [Ladder.Lifeline(name: "client", detail: "client 198.18.0.1"),
                      Ladder.Lifeline(name: "mbox", detail: "middlebox", isMiddlebox: true),
                      Ladder.Lifeline(name: "server", detail: "server 198.18.0.2")]

@Suite("Ladder diagrams")
struct LadderTests {
    @Test("a pcap between two Linux kernels: a lifeline per address, an arrow per TCP segment, relative numbers")
    func kernelCapture() throws {
        let bytes = try #require(FileManager.default.contents(atPath: kernelFixture))
        let ladder = try Ladder.fromPcap(Array(bytes), title: "fixture")
        #expect(ladder.lifelines.map(\.name) == ["198.18.0.1", "198.18.0.2"])
        let arrows = ladder.arrows
        #expect(arrows.count == 14)  // every TCP segment; ARP, UDP and ICMP are not drawn
        #expect(arrows.map(\.flags).prefix(4) == ["S", "S.", ".", "P."])
        // Relative numbers as Wireshark shows them; absolute ones kept.
        #expect(arrows[0].relativeSeq == 0 && arrows[0].seq == 1_649_302_710)
        #expect(arrows[1].relativeSeq == 0 && arrows[1].relativeAck == 1)
        #expect(arrows[2].relativeSeq == 1 && arrows[2].relativeAck == 1)
        #expect(arrows[3].label == "P. seq 1 ack 1 win 63 len 5")
        // The refused connection: R. seq 0 ack 1 of its own SYN.
        let refused = try #require(arrows.first { $0.flags == "R." && $0.win == 0 })
        #expect(refused.relativeAck == 1 && refused.from == 1 && refused.to == 0)
        // Inferred states on the lifelines.
        let states = ladder.items.compactMap { item -> String? in if case let .state(_, _, text) = item { text } else { nil } }
        #expect(states.prefix(3) == ["SYN_SENT", "SYN_RECV", "ESTABLISHED"])
        #expect(states.contains("TIME_WAIT") || states.contains("FIN_WAIT1"))
        // Gaps longer than 200 ms are folded.
        #expect(ladder.items.contains { if case .gap = $0 { true } else { false } })
    }

    @Test("terminal: plain when piped, colour when asked; readable lines with times and labels")
    func terminal() throws {
        let bytes = try #require(FileManager.default.contents(atPath: kernelFixture))
        let ladder = try Ladder.fromPcap(Array(bytes), title: "fixture")
        let plain = ladder.renderTerminal(Ladder.TerminalStyle(width: 100, colour: false))
        #expect(!plain.contains("\u{1B}["))
        #expect(plain.contains("S seq 0 win 64240"))
        #expect(plain.contains("S. seq 0 ack 1 win 65160"))
        #expect(plain.contains("‹mss 1460,sackOK,TS 2485147532:0,wscale 10›"))
        #expect(plain.contains("later"))
        #expect(plain.split(separator: "\n").allSatisfy { $0.count <= 100 })
        let colour = ladder.renderTerminal(Ladder.TerminalStyle(width: 100, colour: true))
        #expect(colour.contains("\u{1B}[36m"))  // SYN in cyan
    }

    @Test("a dropped segment ends at the middlebox with a cross and the rule")
    func drops() {
        let (segments, states) = syntheticTrace(10)
        let ladder = Ladder.build(title: "", lifelines: threeLifelines, segments: segments, states: states)
        let dropped = ladder.arrows.filter { $0.droppedBy != nil }
        #expect(dropped.count == 1)
        #expect(dropped.first?.droppedAt == 1)
        #expect(dropped.first?.from == 2 && dropped.first?.to == 0)  // the 7th: the server's, leftwards
        let text = ladder.renderTerminal(Ladder.TerminalStyle(width: 110))
        let line = text.split(separator: "\n").first { $0.contains("✕") }
        #expect(line?.contains("drop every 7th") == true)
        let svg = ladder.renderSVG()
        #expect(svg.contains("dropped: drop every 7th"))
    }

    @Test("relative sequence numbers survive the 2^32 wrap")
    func wrap() {
        let (segments, states) = syntheticTrace(8)
        let ladder = Ladder.build(title: "", lifelines: threeLifelines, segments: segments, states: states)
        let data = ladder.arrows.filter { $0.flags == "P." }
        #expect(data.map(\.relativeSeq).prefix(3) == [1, 101, 201])
        #expect(data.first.map { $0.seq < 100 } == false)
        #expect(ladder.arrows.contains { $0.seq < 1000 && $0.flags == "P." })  // the absolute ones wrapped
    }

    @Test("readable at 3 and at 300 segments: one row per segment, quiet gaps folded, SVG grows linearly")
    func scale() {
        for n in [3, 300] {
            let (segments, states) = syntheticTrace(n)
            let ladder = Ladder.build(title: "n = \(n)", lifelines: threeLifelines, segments: segments, states: states)
            #expect(ladder.arrows.count == n)
            let text = ladder.renderTerminal(Ladder.TerminalStyle(width: 120))
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count >= 2 * n && lines.count <= 4 * n + 20)
            #expect(lines.allSatisfy { $0.count <= 120 })
            let svg = ladder.renderSVG()
            #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
            if n == 300 {
                let gaps = ladder.items.filter { if case .gap = $0 { true } else { false } }.count
                #expect(gaps == 5)  // the 3 s pauses after segments 50, 100, … 250
                #expect(text.contains("3.000 s later"))
            }
        }
    }

    @Test("the SVG is well-formed XML and escapes what it quotes")
    func svgIsXML() throws {
        var (segments, states) = syntheticTrace(20)
        segments[3].options = "weird <&> \"option\""
        states.append(TraceState(t: 1, node: "server", text: "<LISTEN & more>"))
        let svg = Ladder.build(title: "a & b", lifelines: threeLifelines, segments: segments, states: states).renderSVG()
        #expect(!svg.contains("<LISTEN"))
        #expect(svg.contains("&lt;LISTEN &amp; more&gt;"))
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    }

    @Test("an HTML report holds the ladder beside each node's state timeline")
    func html() {
        let (segments, states) = syntheticTrace(6)
        let svg = Ladder.build(title: "", lifelines: threeLifelines, segments: segments, states: states).renderSVG()
        let page = HTMLReport(title: "t", subtitle: "s", description: "d", passed: false,
                              expectations: [.init(text: "client state ESTABLISHED", passed: false, detail: "never")],
                              ladderSVG: svg, timelines: [("client", [.init(t: 0, conn: "c", from: "CLOSE", to: "SYN_SENT", cause: "connect()")])],
                              counters: [("client", [("ActiveOpens", 1)])], notes: [], artifacts: [("ladder.svg", "ladder.svg")]).render()
        #expect(page.contains("<svg") && page.contains("class=\"timelines\""))
        #expect(page.contains("SYN_SENT") && page.contains("FAIL"))
    }

    @Test("a file that is not a pcap is refused with a reason")
    func notAPcap() {
        #expect(throws: Ladder.PcapProblem.self) { try Ladder.fromPcap(Array("hello".utf8), title: "") }
    }
}

/// Runs a built executable from the build directory of this test bundle.
func runTool(_ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(name)
    let p = Process()
    p.executableURL = exe
    p.arguments = arguments
    p.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

@Suite("tcplab ladder")
struct LadderCommandTests {
    @Test("tcplab ladder draws the kernel capture and writes its SVG")
    func ladderCommand() throws {
        let svg = NSTemporaryDirectory() + "tcplab-ladder-\(getpid()).svg"
        defer { try? FileManager.default.removeItem(atPath: svg) }
        let r = try runTool("tcplab", ["ladder", kernelFixture, "--svg", svg, "--width", "100"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("198.18.0.1") && r.stdout.contains("198.18.0.2"))
        #expect(r.stdout.contains("S. seq 0 ack 1 win 65160"))
        #expect(r.stdout.contains("R. seq 0 ack 1 win 0"))
        #expect(!r.stdout.contains("\u{1B}["))  // piped: no colour
        #expect(FileManager.default.contents(atPath: svg).map { String(decoding: $0, as: UTF8.self).hasPrefix("<svg") } == true)
    }

    @Test("tcplab ladder on something else says why and exits 2")
    func badFile() throws {
        let r = try runTool("tcplab", ["ladder", "\(packageRoot)/Package.swift"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("not a pcap file"))
    }
}
