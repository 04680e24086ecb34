// Validate.swift - `ringctl validate` (is this file a sound ring? every check of
// SPEC.md §13 at open, then every unread record) and `ringctl list DIR` (the
// ring files in a folder, each with its state).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import RingFormat

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a ring file: its header, its positions and every unread record.",
        discussion: "Exit status 0: the file is a sound ring; 1: it is not (the reason is printed).")

    @Argument(help: "The ring file.")
    var path: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let report = Report.make(path)
        if json {
            var fields: [(String, JSON)] = [("path", .string(path)), ("sound", .bool(report.error == nil))]
            fields.append(("error", report.error.map { .string($0.description) } ?? .null))
            if let s = report.stats {
                fields += [("messageCount", .number(UInt64(s.messageCount))), ("payloadBytes", .number(UInt64(s.payloadBytes)))]
            }
            Output.line(JSON.object(fields).text)
        } else if let s = report.stats {
            Output.line("\(path): sound: \(s.messageCount) unread messages (\(s.payloadBytes) bytes) "
                + "from position \(s.consumerPosition) to \(s.producerPosition), writer \(s.isWriterClosed ? "closed" : "open")")
        }
        if let error = report.error {
            if json { throw ExitCode.failure }
            throw Failure(message: "\(path): not sound: \(error)", status: 1)
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the ring files in a folder, each with its state.",
        discussion: "Files that do not start with the ring magic are left out unless --all is given.")

    @Argument(help: "The folder.")
    var directory: String

    @Flag(help: "Also list files that are not ring files.")
    var all = false

    @Flag(help: "Print one JSON object a line.")
    var json = false

    func run() throws {
        guard let dir = opendir(directory) else {
            throw Failure.ring(directory, .system(operation: "opendir", errno: errno))
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        if !json { Output.line("name capacity policy messages usedBytes producer consumer writer status") }
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let isRing = (try? RawHeader.read(path).get())?.hasMagic ?? false
            guard isRing || all else { continue }
            let report: Report = isRing ? Report.make(path) : Report(error: .corrupt(.badMagic))
            print(report, name: name)
        }
    }

    func print(_ r: Report, name: String) {
        let roles = r.roles.map { $0.isHeld ? "held" : $0.isStale ? "stale" : "free" }
        if json {
            var fields: [(String, JSON)] = [("name", .string(name))]
            if let g = r.geometry { fields += [("capacity", .number(UInt64(g.capacity))), ("policy", .string("\(g.policy)"))] }
            if let s = r.stats {
                fields += [("messageCount", .number(UInt64(s.messageCount))), ("usedBytes", .number(UInt64(s.usedBytes))),
                           ("writerClosed", .bool(s.isWriterClosed))]
            }
            if roles.count == 2 { fields += [("producer", .string(roles[0])), ("consumer", .string(roles[1]))] }
            fields += [("sound", .bool(r.error == nil)), ("error", r.error.map { .string($0.description) } ?? .null)]
            Output.line(JSON.object(fields).text)
            return
        }
        var columns = [name]
        if let g = r.geometry { columns += [String(g.capacity), "\(g.policy)"] } else { columns += ["-", "-"] }
        if let s = r.stats { columns += [String(s.messageCount), String(s.usedBytes)] } else { columns += ["-", "-"] }
        columns += roles.count == 2 ? roles : ["-", "-"]
        if let s = r.stats { columns.append(s.isWriterClosed ? "closed" : "open") } else { columns.append("-") }
        if let e = r.error { columns.append("error: \(e)") } else { columns.append("sound") }
        Output.line(columns.joined(separator: " "))
    }
}
