import CSystemd
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An error of the sd_journal API, naming the call.
public struct JournalError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// The local journal files through libsystemd's sd_journal API (sd-journal(3)): `sd_journal_open`,
/// matches, `sd_journal_next`/`previous`, `sd_journal_get_data`, `sd_journal_wait`. One instance per
/// thread: sd_journal objects are not thread-safe.
public final class SystemJournal {
    private var j: OpaquePointer?

    /// sd_journal_open(SD_JOURNAL_LOCAL_ONLY), with no size limit on the data a field returns.
    public init() throws {
        let r = sd_journal_open(&j, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard r >= 0, j != nil else { throw JournalError(call: "sd_journal_open", errno: -r) }
        _ = sd_journal_set_data_threshold(j, 0)
    }

    deinit { sd_journal_close(j) }

    /// sd_journal_add_match("FIELD=value"). Matches on different fields AND, on one field OR.
    public func addMatch(_ match: String) throws {
        let r = match.withCString { sd_journal_add_match(j, $0, 0) }
        guard r >= 0 else { throw JournalError(call: "sd_journal_add_match(\(match))", errno: -r) }
    }

    /// sd_journal_add_disjunction: the matches so far OR the ones that follow.
    public func addDisjunction() throws {
        let r = sd_journal_add_disjunction(j)
        guard r >= 0 else { throw JournalError(call: "sd_journal_add_disjunction", errno: -r) }
    }

    /// sd_journal_flush_matches.
    public func flushMatches() { sd_journal_flush_matches(j) }

    /// sd_journal_next: true when positioned on a new entry.
    public func next() throws -> Bool {
        let r = sd_journal_next(j)
        guard r >= 0 else { throw JournalError(call: "sd_journal_next", errno: -r) }
        return r > 0
    }

    /// sd_journal_previous.
    public func previous() throws -> Bool {
        let r = sd_journal_previous(j)
        guard r >= 0 else { throw JournalError(call: "sd_journal_previous", errno: -r) }
        return r > 0
    }

    /// sd_journal_seek_head.
    public func seekHead() throws {
        let r = sd_journal_seek_head(j)
        guard r >= 0 else { throw JournalError(call: "sd_journal_seek_head", errno: -r) }
    }

    /// sd_journal_seek_tail.
    public func seekTail() throws {
        let r = sd_journal_seek_tail(j)
        guard r >= 0 else { throw JournalError(call: "sd_journal_seek_tail", errno: -r) }
    }

    /// sd_journal_seek_realtime_usec.
    public func seekRealtime(microseconds: UInt64) throws {
        let r = sd_journal_seek_realtime_usec(j, microseconds)
        guard r >= 0 else { throw JournalError(call: "sd_journal_seek_realtime_usec", errno: -r) }
    }

    /// sd_journal_get_data: the value of `field` in the current entry (the first, if it repeats).
    public func value(_ field: String) -> String? {
        guard let bytes = rawValue(field) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value's bytes, valid until the next call on this journal.
    public func rawValue(_ field: String) -> UnsafeRawBufferPointer? {
        var data: UnsafeRawPointer?
        var length = 0
        let r = field.withCString { sd_journal_get_data(j, $0, &data, &length) }
        guard r >= 0, let data else { return nil }
        // "FIELD=value": skip the name and the '='.
        let skip = field.utf8.count + 1
        guard length >= skip else { return nil }
        return UnsafeRawBufferPointer(start: data + skip, count: length - skip)
    }

    /// Every field of the current entry (sd_journal_restart_data, sd_journal_enumerate_data), values
    /// of a repeated field in order.
    public func allFields() -> [String: [String]] {
        var out: [String: [String]] = [:]
        sd_journal_restart_data(j)
        var data: UnsafeRawPointer?
        var length = 0
        while sd_journal_enumerate_data(j, &data, &length) > 0 {
            guard let data else { continue }
            let buf = UnsafeRawBufferPointer(start: data, count: length)
            guard let eq = buf.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: buf[..<eq], as: UTF8.self)
            out[name, default: []].append(String(decoding: buf[(eq + 1)...], as: UTF8.self))
        }
        return out
    }

    /// sd_journal_get_realtime_usec: when journald received the current entry.
    public var realtimeMicroseconds: UInt64? {
        var t: UInt64 = 0
        return sd_journal_get_realtime_usec(j, &t) >= 0 ? t : nil
    }

    /// sd_journal_get_cursor.
    public var cursor: String? {
        var c: UnsafeMutablePointer<CChar>?
        guard sd_journal_get_cursor(j, &c) >= 0, let c else { return nil }
        defer { free(c) }
        return String(cString: c)
    }

    /// sd_journal_wait: sleeps until the journal changes or `timeout` passes.
    /// - Returns: true when something changed (new entries may be there).
    public func wait(timeout: TimeInterval) throws -> Bool {
        let r = sd_journal_wait(j, UInt64(max(0, timeout) * 1_000_000))
        guard r >= 0 else { throw JournalError(call: "sd_journal_wait", errno: -r) }
        return r != Int32(SD_JOURNAL_NOP)
    }
}
