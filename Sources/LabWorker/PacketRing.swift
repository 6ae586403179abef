import CLabIO
import Foundation

/// An AF_PACKET socket on one interface with PACKET_MMAP rings (`clab_ring_open`, TPACKET_V2): the
/// kernel writes received frames into a ring this process reads in place, and sends the frames this
/// process writes into a second ring, one send() per burst. The middlebox's port: a frame crosses
/// from one port's receive ring into the other's transmit ring with one copy and no Swift array.
final class PacketRing {
    let interface: String
    /// The C state lives at a fixed address: the rings' positions change with every frame.
    private let ring: UnsafeMutablePointer<clab_ring>

    /// The descriptor to watch for input.
    var fd: Int32 { ring.pointee.fd }

    /// Opens the port. 4096 receive slots absorb a burst of several milliseconds at the middlebox's
    /// rate; the transmit ring is drained by every send (at most 64 frames wait), so 256 slots suffice
    /// and stay in the cache. The qdisc is not bypassed: the gain was lost in the noise, and with it
    /// a tcpdump on the middlebox's interfaces would no longer see what it sends.
    /// - Parameters:
    ///   - interface: the interface to bind to (it carries no address).
    ///   - receiveFrames: receive slots; frames this host sends are not received (PACKET_IGNORE_OUTGOING).
    ///   - transmitFrames: transmit slots.
    init(interface: String, receiveFrames: UInt32 = 4096, transmitFrames: UInt32 = 256) throws {
        let ring = UnsafeMutablePointer<clab_ring>.allocate(capacity: 1)
        var options = clab_ring_options(rx_frames: receiveFrames, tx_frames: transmitFrames, frame_size: 0, protocol: 0x0003 /* ETH_P_ALL */,
                                        ignore_outgoing: 1, qdisc_bypass: 0)
        let rc = clab_ring_open(interface, &options, ring)
        guard rc == 0 else {
            ring.deallocate()
            throw WorkerError("cannot open a packet ring on \(interface): \(String(cString: strerror(-rc)))")
        }
        self.interface = interface
        self.ring = ring
    }

    deinit {
        clab_ring_close(ring)
        ring.deallocate()
    }

    /// Hands up to `limit` received frames to `body`, each as bytes valid during the call only (they
    /// are the ring's slot, given back to the kernel when `body` returns).
    /// - Returns: how many frames were handed over.
    @discardableResult
    func receive(limit: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var count = 0
        var length: UInt32 = 0
        while count < limit, let bytes = clab_ring_rx_next(ring, &length, nil) {
            body(UnsafeRawBufferPointer(start: bytes, count: Int(length)))
            clab_ring_rx_release(ring)
            count += 1
        }
        return count
    }

    /// Copies a frame into the transmit ring; it leaves with the next `flush` (or sooner, in a long burst).
    func send(_ frame: UnsafeRawBufferPointer) {
        _ = clab_ring_tx_enqueue(ring, frame.baseAddress, UInt32(frame.count))
    }

    /// Hands the queued frames to the kernel (one send()); nothing when none is queued.
    func flush() {
        if clab_ring_tx_pending(ring) > 0 { _ = clab_ring_tx_flush(ring) }
    }

    /// Frames the kernel dropped because the receive ring was full: the middlebox fell behind.
    var receiveDrops: Int {
        clab_ring_update_stats(ring)
        return Int(ring.pointee.rx_dropped)
    }

    /// Frames that could not be sent (the device refused them, or the transmit ring was full).
    var sendFailures: Int { Int(ring.pointee.tx_failed) }
}
