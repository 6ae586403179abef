import ArgumentParser
import Foundation
import LabReport

/// `tcplab ladder FILE.pcap`: the ladder of any Ethernet pcap (ours, tcpdump's, two kernels').
struct LadderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ladder",
        abstract: "Draw the ladder diagram of a pcap file (a lifeline per address, an arrow per TCP segment).")

    @Argument(help: "A pcap file (Ethernet; pcap, not pcapng).", completion: .file(extensions: ["pcap"]))
    var file: String

    @Option(help: "Also write the ladder as SVG here.")
    var svg: String?

    @Option(help: "Width in columns (default: the terminal's).")
    var width: Int?

    @Flag(help: "Do not fold quiet gaps.")
    var noFold = false

    @Flag(help: "Do not infer states from the segments.")
    var noStates = false

    func run() throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            Terminal.error("cannot read \(file)")
            throw ExitCode(Status.badInput)
        }
        let ladder: Ladder
        do {
            ladder = try Ladder.fromPcap(Array(data), title: "\(file) (states inferred from the segments)",
                                         inferStates: !noStates, foldGapsLongerThan: noFold ? nil : Ladder.defaultFold)
        } catch {
            Terminal.error("\(file): \(error)")
            throw ExitCode(Status.badInput)
        }
        print(ladder.renderTerminal(Ladder.TerminalStyle(width: width ?? Terminal.width, colour: Terminal.colour)))
        if let svg {
            do { try Data(ladder.renderSVG().utf8).write(to: URL(fileURLWithPath: svg)) } catch {
                Terminal.error("cannot write \(svg): \(error)")
                throw ExitCode(Status.badInput)
            }
            print("wrote \(svg)")
        }
    }
}
