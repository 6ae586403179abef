import Foundation
import LabTopology

#if canImport(Glibc)
import Glibc
#endif

/// What the terminal can show.
enum Terminal {
    /// Colour only on a terminal, and never with NO_COLOR set (no-color.org).
    static var colour: Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Columns: the terminal's, else COLUMNS, else 100.
    static var width: Int {
        var ws = winsize()
        if isatty(STDOUT_FILENO) != 0, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col >= 60 { return Int(ws.ws_col) }
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), c >= 60 { return c }
        return 100
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Seconds with microseconds, right-aligned: `   1.000050`.
    static func stamp(_ ns: Int64) -> String {
        let us = ns / 1000
        let frac = String(us % 1_000_000)
        let s = "\(us / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac)"
        return String(repeating: " ", count: max(0, 11 - s.count)) + s
    }
}

/// Exit statuses shared by the commands.
enum Status {
    static let pass: Int32 = 0
    static let failed: Int32 = 1
    static let badInput: Int32 = 2
    static let labError: Int32 = 3
}

/// Prints a topology's problems (every one) and the count.
func report(_ errors: TopologyErrors) {
    Terminal.error(errors.description)
}
