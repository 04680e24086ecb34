// Inspect.swift - `ringctl inspect`: every header field, the ring's state,
// who holds the roles and whether they are alive, and who waits. Text (one
// "name value" line each) or --json. On a file that does not open as a ring it
// still shows the header fields, then the reason, and exits 1.

import ArgumentParser
import RingFormat

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every header field, the state, the roles and the waiters of a ring.")

    @Argument(help: "The ring file.")
    var path: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let header: RawHeader
        switch RawHeader.read(path) {
        case .success(let h): header = h
        case .failure(let f): throw f
        }
        let report = Report.make(path)
        if json {
            Output.line(report.json(path: path, header: header).text)
        } else {
            Output.line("path \(path)")
            for (name, value) in header.fields {
                let shown = name.hasSuffix("Flags") || name == "headerChecksum" || name == "magic" || name.hasSuffix("Owner")
                    ? "0x" + String(value, radix: 16) : String(value)
                Output.line("\(name) \(shown)" + (header.note(name, value).map { " (\($0))" } ?? ""))
            }
            for line in report.textLines() { Output.line(line) }
        }
        if let error = report.error { throw Failure(message: "\(path): \(error)", status: 1) }
    }
}

/// What inspect, validate and list learn of a ring by opening it and walking its records.
struct Report {
    var geometry: RingGeometry?
    var stats: RingStats?
    var roles: [RoleStatus] = []
    var waiters: RingWaiters?
    var readers: [ReaderInfo] = []
    var producers: [ProducerInfo] = []
    /// Whether a live process can still write, and one reads (SPEC.md §22.1).
    var producerAlive: Bool?
    var consumerAlive: Bool?
    /// The unread messages as the ring's counts give them in O(1) (SPEC.md §22.2); nil for
    /// a ring that keeps none (then only the walk's messageCount tells).
    var countedMessages: Int?
    /// Why the file is not a sound ring, or nil.
    var error: RingError?

    /// Opens `path` and inspects it (no role is taken, nothing is written).
    static func make(_ path: String) -> Report {
        var r = Report()
        do throws(RingError) {
            let ring = try Ring.open(at: path)
            r.geometry = ring.geometry
            r.roles = [try ring.roleStatus(.producer), try ring.roleStatus(.consumer)]
            r.waiters = try ring.waiters()
            r.readers = try ring.readers()
            r.producers = try ring.producers()
            r.producerAlive = try ring.producerAlive
            r.consumerAlive = try ring.consumerAlive
            r.stats = try ring.stats()
            if ring.geometry.keepsCounts { r.countedMessages = try ring.messageCount }
        } catch {
            r.error = error
        }
        return r
    }

    /// How a role stands, in words.
    static func describe(_ role: RoleStatus) -> String {
        if role.isHeld { return "held" + (role.ownerPID.map { " by pid \($0)" } ?? "") }
        if role.isStale, let pid = role.ownerPID { return "free (its last holder, pid \(pid), died without giving it up)" }
        return "free"
    }

    func textLines() -> [String] {
        var out: [String] = []
        if let g = geometry {
            out += ["version \(g.versionMajor).\(g.versionMinor)", "fileSize \(g.fileSize)"]
            if let type = g.itemType {
                out += ["itemType \(type)", "itemSize \(type.size)", "itemAlignment \(g.itemAlignment)",
                        "itemCapacity \(g.itemCapacity)"]
            } else {
                out.append("maxMessageSize \(g.maxMessageSize)")
            }
        }
        if let s = stats {
            if geometry?.isTyped == true {
                // A typed ring's positions count items (SPEC.md §19.3).
                out += ["itemCount \(s.messageCount)", "payloadBytes \(s.payloadBytes)", "droppedCount \(s.droppedCount)",
                        "writerClosed \(s.isWriterClosed)"]
            } else {
                out += ["usedBytes \(s.usedBytes)", "freeBytes \(s.freeBytes)", "messageCount \(s.messageCount)",
                        "payloadBytes \(s.payloadBytes)", "writerClosed \(s.isWriterClosed)"]
            }
        }
        if let counted = countedMessages { out.append("countedMessages \(counted)") }
        for role in roles { out.append("\(role.role.rawValue)Role \(Report.describe(role))") }
        if let alive = producerAlive { out.append("producerAlive \(alive)") }
        if let alive = consumerAlive { out.append("consumerAlive \(alive)") }
        if let w = waiters { out += ["waitingReaders \(w.readers)", "waitingWriters \(w.writers)"] }
        for r in readers {
            let kind = (r.isGating ? "gating" : "lapping") + (r.isDurable ? " durable" : "")
            out.append("reader\(r.slot) \(r.name.map { "\"\($0)\" " } ?? "")\(kind) \(r.isLive ? "live" : "not live") "
                       + "cursor \(r.cursor) lagBytes \(r.lagBytes) missed \(r.missedCount)")
        }
        for p in producers {
            out.append("producer\(p.slot) \(p.isLive ? "live" : "not live")"
                       + (p.claimStart.map { " claim at \($0)" + (p.isHeld ? " (held)" : "") } ?? "")
                       + " committed \(p.committedCount) cancelled \(p.cancelledCount)")
        }
        out.append("status " + (error.map { "error: \($0)" } ?? "sound"))
        return out
    }

    func json(path: String, header: RawHeader) -> JSON {
        var fields: [(String, JSON)] = [("path", .string(path))]
        let headerFields = header.fields.map { ($0.name, JSON.number($0.value)) }
        fields.append(("header", .object(headerFields)))
        fields.append(("magicOK", .bool(header.hasMagic)))
        if let g = geometry {
            fields.append(("geometry", .object([
                ("version", .string("\(g.versionMajor).\(g.versionMinor)")), ("headerSize", .number(UInt64(g.headerSize))),
                ("capacity", .number(UInt64(g.capacity))), ("policy", .string("\(g.policy)")),
                ("fileSize", .number(UInt64(g.fileSize))), ("maxMessageSize", .number(UInt64(g.maxMessageSize))),
                ("readerSlots", .number(UInt64(g.readerSlots))), ("producerSlots", .number(UInt64(g.producerSlots))),
                ("itemType", g.itemType.map { .string($0.description) } ?? .null),
                ("itemSize", .number(UInt64(g.itemSize))), ("itemAlignment", .number(UInt64(g.itemAlignment))),
                ("itemCapacity", .number(UInt64(g.itemCapacity))),
            ])))
        } else {
            fields.append(("geometry", .null))
        }
        if let s = stats {
            fields.append(("state", .object([
                ("producerPosition", .number(s.producerPosition)), ("consumerPosition", .number(s.consumerPosition)),
                ("usedBytes", .number(UInt64(s.usedBytes))), ("freeBytes", .number(UInt64(s.freeBytes))),
                ("messageCount", .number(UInt64(s.messageCount))), ("payloadBytes", .number(UInt64(s.payloadBytes))),
                ("droppedCount", .number(s.droppedCount)), ("writerClosed", .bool(s.isWriterClosed)),
                ("countsKept", .bool(geometry?.keepsCounts ?? false)),
                ("countedMessages", countedMessages.map { .number(UInt64($0)) } ?? .null),
            ])))
        } else {
            fields.append(("state", .null))
        }
        fields.append(("roles", .object(roles.map { role in
            (role.role.rawValue, JSON.object([
                ("held", .bool(role.isHeld)), ("ownerPid", role.ownerPID.map { .signed(Int64($0)) } ?? .null),
                ("ownerRunning", .bool(role.ownerRunning)), ("stale", .bool(role.isStale)),
            ]))
        })))
        fields.append(("producerAlive", producerAlive.map { .bool($0) } ?? .null))
        fields.append(("consumerAlive", consumerAlive.map { .bool($0) } ?? .null))
        fields.append(("readers", .array(readers.map { r in
            JSON.object([
                ("slot", .number(UInt64(r.slot))), ("name", r.name.map { .string($0) } ?? .null),
                ("gating", .bool(r.isGating)), ("durable", .bool(r.isDurable)), ("live", .bool(r.isLive)),
                ("cursor", .number(r.cursor)), ("lagBytes", .number(r.lagBytes)), ("missedCount", .number(r.missedCount)),
            ])
        })))
        fields.append(("producers", .array(producers.map { p in
            JSON.object([
                ("slot", .number(UInt64(p.slot))), ("live", .bool(p.isLive)),
                ("claimStart", p.claimStart.map { .number($0) } ?? .null), ("held", .bool(p.isHeld)),
                ("committedCount", .number(p.committedCount)), ("cancelledCount", .number(p.cancelledCount)),
            ])
        })))
        fields.append(("waiters", waiters.map { .object([("readers", .number(UInt64($0.readers))),
                                                         ("writers", .number(UInt64($0.writers)))]) } ?? .null))
        fields.append(("sound", .bool(error == nil)))
        fields.append(("error", error.map { .string($0.description) } ?? .null))
        return .object(fields)
    }
}
