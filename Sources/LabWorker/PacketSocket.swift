import CLabIO
import Foundation

/// An AF_PACKET socket bound to one interface (`socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)`): whole
/// Ethernet frames in and out, the namespace's kernel bypassed (the interface carries no address).
final class PacketSocket {
    let interface: String
    let fd: Int32
    let ifindex: Int32
    /// Batch receive: 64 slots of `stride` bytes (jumbo frames are cut at the stride).
    static let stride = 9216
    private var batch = [UInt8](repeating: 0, count: 64 * PacketSocket.stride)
    private var lengths = [UInt32](repeating: 0, count: 64)
    /// Frames queued by `enqueue`, sent together by `flushQueue` (one sendmmsg).
    private var outgoing: [UInt8] = []
    private var outgoingOffsets: [UInt32] = []
    private var outgoingLengths: [UInt32] = []
    /// Frames the kernel refused (a full queue); counted, never fatal.
    private(set) var sendFailures = 0

    init(interface: String) throws {
        var index: Int32 = 0
        let fd = clab_packet_open(interface, &index)
        guard fd >= 0 else { throw WorkerError("cannot open a packet socket on \(interface): \(String(cString: strerror(-fd)))") }
        self.interface = interface
        self.fd = fd
        ifindex = index
    }

    deinit { close(fd) }

    /// Receives up to 64 frames with one recvmmsg and hands each to `body` as a buffer valid during the call.
    /// Returns how many.
    @discardableResult
    func receiveBatch(_ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let n = batch.withUnsafeMutableBufferPointer { b in
            lengths.withUnsafeMutableBufferPointer { l in
                clab_packet_recv_batch(fd, b.baseAddress, Self.stride, l.baseAddress, 64)
            }
        }
        guard n > 0 else { return 0 }
        batch.withUnsafeBytes { raw in
            for i in 0..<Int(n) {
                body(UnsafeRawBufferPointer(rebasing: raw[(i * Self.stride)..<(i * Self.stride + Int(lengths[i]))]))
            }
        }
        return Int(n)
    }

    /// Queues a frame for the next `flushQueue`.
    func enqueue(_ frame: some Collection<UInt8>) {
        outgoingOffsets.append(UInt32(outgoing.count))
        outgoingLengths.append(UInt32(frame.count))
        outgoing.append(contentsOf: frame)
        if outgoingLengths.count >= 64 { flushQueue() }
    }

    /// Sends every queued frame with sendmmsg.
    func flushQueue() {
        guard !outgoingLengths.isEmpty else { return }
        let count = Int32(outgoingLengths.count)
        let sent = clab_packet_send_batch(fd, ifindex, outgoing, outgoingOffsets, outgoingLengths, count)
        if sent < count { sendFailures += Int(count - max(sent, 0)) }
        outgoing.removeAll(keepingCapacity: true)
        outgoingOffsets.removeAll(keepingCapacity: true)
        outgoingLengths.removeAll(keepingCapacity: true)
    }

}

/// An error inside a worker, said plainly.
struct WorkerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
