// BadInputTableTests.swift - interop/bad_inputs.tsv, the bad-input table shared by
// the Swift, C and Python tests: each row gives its documented error, never a crash.

import Foundation
import Testing
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

struct BadInput: Sendable, CustomStringConvertible {
    let name, policy, mutations, action, error: String
    var description: String { name }

    static var all: [BadInput] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("interop/bad_inputs.tsv")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return f.count == 5 ? BadInput(name: f[0], policy: f[1], mutations: f[2], action: f[3], error: f[4]) : nil
        }
    }

    /// The table's name for an error.
    static func name(of error: RingError?) -> String {
        switch error {
        case nil: return "OK"
        case .full?: return "FULL"
        case .empty?: return "EMPTY"
        case .invalidSize?: return "INVALID_SIZE"
        case .invalidArgument?: return "INVALID_ARGUMENT"
        case .closed?: return "CLOSED"
        case .endOfStream?: return "END_OF_STREAM"
        case .corrupt?: return "CORRUPT"
        case .unsupportedVersion?: return "UNSUPPORTED_VERSION"
        case .busy?: return "BUSY"
        case .forked?: return "FORKED"
        case .producerGone?: return "PRODUCER_GONE"
        case let .system(_, code)?:
            switch code {
            case ENOENT: return "SYSTEM:ENOENT"
            case EISDIR: return "SYSTEM:EISDIR"
            case EEXIST: return "SYSTEM:EEXIST"
            default: return "SYSTEM:\(code)"
            }
        }
    }
}

@Suite("Bad-input table (interop/bad_inputs.tsv)")
struct BadInputTableTests {
    @Test func tableHasAtLeast25Rows() { #expect(BadInput.all.count >= 25) }

    @Test(arguments: BadInput.all)
    func rowGivesItsError(_ row: BadInput) throws {
        let t = TempRing()
        do {
            let ring = try Ring.create(at: t.path, capacity: 4096,
                                       policy: row.policy == "overwrite" ? .overwriteOldest : .rejectWhenFull)
            let p = try ring.makeProducer()
            try p.write(bytes("abcdefghijk"))
            p.close()
        }
        for m in row.mutations.split(separator: ";").map(String.init) {
            if m == "none" { continue }
            if m == "fix" { RawFile.fixChecksum(t.path); continue }
            if m == "missing" { try FileManager.default.removeItem(atPath: t.path); continue }
            if m == "directory" {
                try FileManager.default.removeItem(atPath: t.path)
                try FileManager.default.createDirectory(atPath: t.path, withIntermediateDirectories: false)
                continue
            }
            if m.hasPrefix("truncate=") { RawFile.truncate(t.path, to: Int(m.dropFirst(9))!); continue }
            let parts = m.split(separator: "@")
            let kind = String(parts[0])
            let rest = parts[1].split(separator: "=")
            let offset = Int(rest[0])!
            switch kind {
            case "u16": RawFile.write(t.path, at: offset, withUnsafeBytes(of: UInt16(rest[1])!.littleEndian) { Array($0) })
            case "u32": RawFile.write(t.path, at: offset, withUnsafeBytes(of: UInt32(rest[1])!.littleEndian) { Array($0) })
            case "u64": RawFile.write(t.path, at: offset, withUnsafeBytes(of: UInt64(rest[1])!.littleEndian) { Array($0) })
            case "bytes":
                let hex = Array(rest[1].utf8)
                let data = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
                RawFile.write(t.path, at: offset, data)
            default: Issue.record("unknown mutation \(m)")
            }
        }
        var error: RingError?
        do {
            switch row.action {
            case "open": _ = try Ring.open(at: t.path).stats()
            case "read": _ = try Ring.open(at: t.path).makeConsumer().read()
            case "second-producer":
                let first = try Ring.open(at: t.path).makeProducer()
                defer { first.close() }
                _ = try Ring.open(at: t.path).makeProducer()
            case "second-consumer":
                let first = try Ring.open(at: t.path).makeConsumer()
                defer { first.close() }
                _ = try Ring.open(at: t.path).makeConsumer()
            case "use-after-close":
                let ring = try Ring.open(at: t.path)
                ring.close()
                _ = try ring.stats()
            case let a where a.hasPrefix("write-"):
                try Ring.open(at: t.path).makeProducer().write([UInt8](repeating: 1, count: Int(a.dropFirst(6))!))
            case let a where a.hasPrefix("create-"):
                _ = try Ring.create(at: t.path, capacity: Int(a.dropFirst(7))!)
            default: Issue.record("unknown action \(row.action)")
            }
        } catch let e {
            error = e
        }
        #expect(BadInput.name(of: error) == row.error, "\(row.name): got \(String(describing: error))")
    }
}
