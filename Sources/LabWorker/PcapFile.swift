import CLabIO
import Foundation
import TCPWire

/// A pcap file being written: every frame a node sends or receives on one interface, stamped with
/// the wall clock (so Wireshark shows real times) derived from the shared monotonic clock.
final class PcapFile {
    private let handle: FileHandle
    private let writer = PcapWriter()
    private let realtimeOffset: Int64
    private var pending: [UInt8] = []

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(PcapWriter().fileHeader())),
              let h = FileHandle(forWritingAtPath: path)
        else { throw WorkerError("cannot create \(path)") }
        h.seekToEndOfFile()
        handle = h
        realtimeOffset = clab_realtime_ns() - clab_monotonic_ns()
    }

    func write(_ frame: [UInt8], monotonic: Int64) {
        pending += writer.record(nanoseconds: UInt64(max(0, monotonic + realtimeOffset)), frame: frame)
        if pending.count > 64 * 1024 { flush() }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        handle.write(Data(pending))
        pending.removeAll(keepingCapacity: true)
    }

    deinit {
        flush()
        handle.closeFile()
    }
}
