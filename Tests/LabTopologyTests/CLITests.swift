import Foundation
import LabTopology
import Testing

/// The `tcplab` executable, run as a user runs it.
@Suite("tcplab", .serialized)
struct CLITests {
    @Test("run --json: one object in the documented format (docs/json-output.md), parsed back")
    func jsonFormat() throws {
        let dir = scratchDirectory("json")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runTool("tcplab", ["run", "--backend", "sim", "--json", "--out", dir, "Topologies/third-ack-lost.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["run_id", "topology", "backend", "seed", "verdict", "expectations", "segments", "states", "counters", "artifacts"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["topology"] as? String == "third-ack-lost")
        #expect(object["backend"] as? String == "sim")
        #expect(object["seed"] as? Int == 1)
        #expect(object["verdict"] as? String == "pass")
        let expectations = try #require(object["expectations"] as? [[String: Any]])
        #expect(expectations.count == 8)
        #expect(expectations.allSatisfy { $0["text"] is String && $0["passed"] as? Bool == true && $0["detail"] is String })
        let segments = try #require(object["segments"] as? [[String: Any]])
        let synAcks = segments.filter { $0["node"] as? String == "server" && $0["dir"] as? String == "out" && $0["flags"] as? String == "S." }
        #expect(synAcks.count == 6)
        let times = synAcks.compactMap { $0["t"] as? Double }
        #expect(times.count == 6 && abs(times[5] - times[0] - 31) < 0.001)
        // Absolute numbers; src and dst as addr:port; options in tcpdump's words.
        let syn = try #require(segments.first { $0["flags"] as? String == "S" && $0["dir"] as? String == "out" })
        let seq = try #require(syn["seq"] as? Int)
        #expect(seq > 1000)
        #expect(syn["src"] as? String == "198.18.0.1:44072" || (syn["src"] as? String)?.hasPrefix("198.18.0.1:") == true)
        #expect(syn["dst"] as? String == "198.18.0.2:80")
        #expect((syn["options"] as? String)?.hasPrefix("mss 1460,sackOK,TS val ") == true)
        #expect(syn["win"] as? Int == 64240 && syn["len"] as? Int == 0)
        let synAck = synAcks[0]
        #expect(synAck["ack"] as? Int == seq + 1)
        let dropped = segments.filter { $0["dropped_by"] as? String == "drop every pure ACK from the client" }
        #expect(dropped.count == 6 && dropped.allSatisfy { $0["node"] as? String == "mbox" && $0["dir"] as? String == "in" })
        let states = try #require(object["states"] as? [[String: Any]])
        #expect(states.contains { $0["node"] as? String == "client" && $0["from"] as? String == "SYN_SENT" && $0["to"] as? String == "ESTABLISHED" && $0["cause"] as? String == "SYN-ACK received" && $0["t"] is Double && $0["conn"] is String })
        let counters = try #require(object["counters"] as? [String: [String: Int]])
        #expect(counters["server"]?["TCPTimeouts"] == 6)
        #expect(counters["mbox"]?["Dropped0to1"] == 6)
        let artifacts = try #require(object["artifacts"] as? [String: Any])
        let pcaps = try #require(artifacts["pcaps"] as? [String])
        #expect(pcaps.count == 1 && FileManager.default.fileExists(atPath: pcaps[0]))
        #expect((artifacts["ladder_svg"] as? String).map { FileManager.default.fileExists(atPath: $0) } == true)
        #expect((artifacts["events"] as? String).map { FileManager.default.fileExists(atPath: $0) } == true)
        // result.json in the run directory is the same object.
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/result.json"))) as? [String: Any]
        #expect(saved?["run_id"] as? String == object["run_id"] as? String)
        // events.jsonl: one event per line, each a JSON object.
        let lines = try String(contentsOfFile: "\(dir)/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count > 20 && lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })
        #expect(FileManager.default.fileExists(atPath: "\(dir)/report.html"))
    }

    @Test("run: the report ends with the ladder, the expectations and the verdict; exit 0")
    func runReport() throws {
        let dir = scratchDirectory("report")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runTool("tcplab", ["run", "--backend", "sim", "--out", dir, "--width", "100"])  // the default: handshake.yaml
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("handshake: LabSim"))
        #expect(r.stdout.contains("client sends  198.18.0.1:"))
        #expect(r.stdout.contains("S. seq 0 ack 1 win 65160"))
        #expect(r.stdout.contains("● SYN_SENT (connect())"))
        #expect(r.stdout.contains("PASS  client state ESTABLISHED within 110ms"))
        #expect(r.stdout.hasSuffix("verdict: pass\n"))
        #expect(!r.stdout.contains("\u{1B}["))
    }

    @Test("run: an expectation that fails exits 1; bad input exits 2; a missing file exits 2")
    func exitCodes() throws {
        let bad = scratchDirectory("bad") + ".yaml"
        let failing = scratchDirectory("failing") + ".yaml"
        defer { for f in [bad, failing] { try? FileManager.default.removeItem(atPath: f) } }
        var text = try String(contentsOfFile: "\(packageRoot)/Topologies/connection-refused.yaml", encoding: .utf8)
        try text.replacingOccurrences(of: "server OutRsts = 1", with: "server OutRsts = 2").write(toFile: failing, atomically: true, encoding: .utf8)
        let dir = scratchDirectory("fail-out")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try runTool("tcplab", ["run", "--backend", "sim", "--out", dir, failing])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL  server OutRsts = 2") && r.stdout.contains("verdict: fail"))
        text = text.replacingOccurrences(of: "role: server", with: "role: servr")
        try text.write(toFile: bad, atomically: true, encoding: .utf8)
        r = try runTool("tcplab", ["run", "--backend", "sim", bad])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(bad):") && r.stderr.contains("unknown role servr (did you mean server?)"))
        r = try runTool("tcplab", ["run", "--backend", "sim", "/nonexistent/x.yaml"])
        #expect(r.status == 2)
        try goodTopology.replacingOccurrences(of: "name: t\n", with: "name: t\nbackends: [sim]  # a reason\n")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        r = try runTool("tcplab", ["run", "--backend", "netns", bad])
        #expect(r.status == 2 && r.stderr.contains("runs on sim only (a reason)"), "\(r.stderr)")
    }

    @Test("validate: the shipped topologies are valid; a bad one gets every error with file:line:column")
    func validate() throws {
        var r = try runTool("tcplab", ["validate"] + shippedTopologies.map { "Topologies/\($0)" })
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").count == shippedTopologies.count)
        let bad = scratchDirectory("validate") + ".yaml"
        defer { try? FileManager.default.removeItem(atPath: bad) }
        try goodTopology.replacingOccurrences(of: "- [client:eth0, server:eth0]", with: "- [client:eth0, sever:eth0]")
            .replacingOccurrences(of: "address: 198.18.0.2/24 }", with: "address: 198.18.0.2/24, sysctl: { tcp_syncookie: 1 } }")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        r = try runTool("tcplab", ["validate", bad])
        #expect(r.status == 2)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("\(bad):4:") && $0.contains("unknown sysctl tcp_syncookie (did you mean tcp_syncookies?)") }, "\(r.stderr)")
        #expect(lines.contains { $0.hasPrefix("\(bad):6:") && $0.contains("link to unknown node sever (did you mean server?)") }, "\(r.stderr)")
        #expect(lines.last == "2 errors: no lab was started")
    }

    @Test("plugins lists the built-in policies and the plugin path")
    func plugins() throws {
        let r = try runTool("tcplab", ["plugins"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("linux") && r.stdout.contains("Plugin path"))
    }

    @Test("graph draws a topology as SVG")
    func graph() throws {
        let r = try runTool("tcplab", ["graph", "Topologies/third-ack-lost.yaml"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("<svg") && r.stdout.contains("mbox") && r.stdout.contains("tcp_synack_retries = 5"))
        #expect(r.stdout.contains("drop every pure ACK from the client"))
    }

    @Test("up builds a standing lab, down removes it", .enabled(if: privileged, "needs CAP_NET_ADMIN"))
    func upAndDown() throws {
        let dir = scratchDirectory("up")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var r = try runTool("tcplab", ["up", "Topologies/kernel-server.yaml", "--out", dir])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let id = try #require(r.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(leftovers(run: id).count == 2, "\(r.stdout)")
        // The kernel server listens in its namespace.
        let ss = Process()
        ss.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        ss.arguments = ["netns", "exec", "tl-\(id)-server", "ss", "-ltn"]
        let pipe = Pipe()
        ss.standardOutput = pipe
        try ss.run()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ss.waitUntilExit()
        #expect(listing.contains(":80"), "\(listing)")
        r = try runTool("tcplab", ["down", id])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("lab \(id) (kernel-server) is down"))
        #expect(leftovers(run: id).isEmpty)
    }
}
