import CLabSys
import Foundation
import LabControl

extension Placement {
    /// Puts this process where the placement says, before the worker opens anything.
    /// - Returns: the CPU latency QoS descriptor to keep open for the worker's life (nil if none);
    ///   the kernel drops the request when the process exits, however it exits.
    func apply(node: String) throws -> Int32? {
        if !cpus.isEmpty {
            // Not checked against this process's own affinity: a worker may be placed outside the
            // CPUs its parent was kept to; the kernel refuses CPUs that are offline or outside the cpuset.
            let rc = cpus.map(Int32.init).withUnsafeBufferPointer { clab_set_cpus($0.baseAddress, Int32($0.count)) }
            guard rc == 0 else {
                let online = ProcessInfo.processInfo.activeProcessorCount
                throw WorkerError("node \(node): cannot run on cpus \(Self.describe(cpus)): \(String(cString: strerror(-rc))) (this machine has cpus 0–\(online - 1)); choose cpus from those")
            }
        }
        guard lowLatency else { return nil }
        let fd = clab_hold_cpu_latency(0)
        guard fd >= 0 else {
            throw WorkerError("node \(node): low-latency needs /dev/cpu_dma_latency (\(String(cString: strerror(-fd)))); run the lab as root or drop low-latency")
        }
        return fd
    }

    static func describe(_ cpus: [Int]) -> String { cpus.map(String.init).joined(separator: ", ") }
}
