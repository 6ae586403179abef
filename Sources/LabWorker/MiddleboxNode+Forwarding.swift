import LabImpair
import TCPPolicy
import TCPWire

extension MiddleboxNode {
    /// Frames taken from one port per wake-up, so the other port and due delayed frames get their turn.
    static let burst = 1024

    func ready(tag: UInt64, at now: Int64) {
        let i = Int(tag)
        guard ports.indices.contains(i) else { return }
        ports[i].receive(limit: Self.burst) { raw in arrived(raw, from: i, at: now) }
        ports[1 - i].flush()
    }

    func poll(at now: Int64) {
        delayed.releaseDue(at: now) { out, bytes in
            bytes.withUnsafeBytes { forward($0, on: out, at: now) }
        }
        for p in ports { p.flush() }
    }

    /// One frame in at interface `i`: dropped, forwarded at once, or held back.
    private func arrived(_ raw: UnsafeRawBufferPointer, from i: Int, at now: Int64) {
        captures[i]?.write(Array(raw), monotonic: now)
        let frame = parsesFrames[i] ? try? Frame.parse(raw, verifyChecksums: false) : nil
        if dropsOnly[i] {
            // The fast path: straight from this port's receive ring into the other's transmit ring.
            if let reason = impairers[i].dropReason(frame: frame) {
                dropped[i] += 1
                record(frame ?? (try? Frame.parse(raw, verifyChecksums: false)), from: i, at: now, droppedBy: reason)
            } else {
                forward(raw, on: 1 - i, at: now)
            }
            return
        }
        for decision in impairers[i].process(Array(raw), frame: frame, at: Instant(nanoseconds: now)) {
            switch decision {
            case let .drop(reason):
                dropped[i] += 1
                record(frame ?? (try? Frame.parse(raw, verifyChecksums: false)), from: i, at: now, droppedBy: reason)
            case let .deliver(at, out, note):
                // Due now and nothing held back that it could overtake: out at once.
                if at.nanoseconds <= now && delayed.isEmpty {
                    out.withUnsafeBytes { forward($0, on: 1 - i, at: now) }
                } else {
                    delayed.insert(out, out: 1 - i, at: at.nanoseconds)
                }
                if let note { record(frame, from: i, at: now, droppedBy: nil, note: note) }
            }
        }
    }

    /// Queues a frame out of interface `i` (sent with the burst's flush).
    private func forward(_ bytes: UnsafeRawBufferPointer, on i: Int, at now: Int64) {
        captures[i]?.write(Array(bytes), monotonic: now)
        ports[i].send(bytes)
        forwarded[1 - i] += 1
    }
}
