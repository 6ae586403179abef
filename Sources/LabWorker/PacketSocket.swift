import CLabIO
import Foundation

/// An AF_PACKET socket bound to one interface (`socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)`): whole
/// Ethernet frames in and out, the namespace's kernel bypassed (the interface carries no address).
final class PacketSocket {
    let interface: String
    let fd: Int32
    let ifindex: Int32
    private var buffer = [UInt8](repeating: 0, count: 65536)

    init(interface: String) throws {
        var index: Int32 = 0
        let fd = clab_packet_open(interface, &index)
        guard fd >= 0 else { throw WorkerError("cannot open a packet socket on \(interface): \(String(cString: strerror(-fd)))") }
        self.interface = interface
        self.fd = fd
        ifindex = index
    }

    deinit { close(fd) }

    /// The next frame waiting, or nil.
    func receive() -> [UInt8]? {
        let n = buffer.withUnsafeMutableBytes { clab_packet_recv(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return Array(buffer[0..<n])
    }

    /// Sends a frame; counts and reports failures instead of stopping the worker.
    @discardableResult
    func send(_ frame: [UInt8]) -> Bool {
        let n = frame.withUnsafeBytes { clab_packet_send(fd, ifindex, $0.baseAddress, $0.count) }
        return n == frame.count
    }
}

/// An error inside a worker, said plainly.
struct WorkerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
