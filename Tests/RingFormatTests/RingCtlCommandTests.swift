// RingCtlCommandTests.swift - the operator CLI (issue 13): --help and --version,
// unknown options and commands, inspect --json with roles, waiters and every header
// field, tail -f on a live ring, peek without consuming, validate's exit status on
// sound and corrupt files, list DIR, and stats --watch.

import Foundation
import Testing
import RingFormat
import RingWorkload
#if canImport(Glibc)
import Glibc
#endif

/// The JSON object ringctl printed on one line.
func jsonObject(_ line: some StringProtocol) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(line.utf8))
    return try #require(value as? [String: Any], "not a JSON object: \(line)")
}

@Suite("ringctl commands (issue 13)")
struct RingCtlCommandTests {
    static let commands = ["create", "write", "read", "peek", "tail", "inspect", "stats", "validate", "list", "dump"]

    @Test func helpAndVersionExitZero() throws {
        let help = try RingCtl.run(["--help"])
        #expect(help.status == 0, "\(help.output)")
        for c in Self.commands { #expect(help.output.contains("  \(c) "), "\(c) missing from --help") }
        let version = try RingCtl.run(["--version"])
        let expected = try String(contentsOfFile: #filePath.replacingOccurrences(
            of: "Tests/RingFormatTests/RingCtlCommandTests.swift", with: "VERSION"), encoding: .utf8)
        #expect(version.status == 0 && version.output == expected, "\(version.output)")
        for c in Self.commands {
            let r = try RingCtl.run([c, "--help"])
            #expect(r.status == 0 && r.output.contains("USAGE: ringctl \(c)"), "\(c) --help: \(r.output)")
        }
    }

    /// A CURVE key may begin with "-" (a Z85 character): --allow-key and --curve-server-key
    /// take it as their value. CI's bridge test drew such a key and ringctl refused it as a
    /// missing value, so the CURVE run stalled.
    @Test func bridgeKeysThatBeginWithADashAreValues() throws {
        let t = TempRing()
        let pair = try RingCtl.run(["bridge", "keygen"])
        let secret = try #require(pair.output.split(separator: "\n").first { $0.hasPrefix("secret ") }).dropFirst(7)
        let secretFile = t.path + ".secret"
        try String(secret).write(toFile: secretFile, atomically: true, encoding: .utf8)
        let dashKey = "-" + String(repeating: "0", count: 39)
        let recv = try runBounded(RingCtl, ["bridge", "recv", t.path + ".dst", "tcp://127.0.0.1:*", "--capacity", "65536",
                                            "--curve-secret-file", secretFile, "--allow-key", dashKey], seconds: 2)
        #expect(!recv.output.contains("Missing value") && recv.output.contains("listening on"), "\(recv.output)")
        #expect(try RingCtl.run(["create", t.path, "--capacity", "65536"]).status == 0)
        let send = try runBounded(RingCtl, ["bridge", "send", t.path, "tcp://127.0.0.1:9", "--curve-secret-file", secretFile,
                                            "--curve-server-key", dashKey], seconds: 2)
        #expect(!send.output.contains("Missing value") && send.status != 2, "\(send.status): \(send.output)")
    }

    @Test func unknownOptionsAndCommandsAreErrorsNamingThem() throws {
        let t = TempRing()
        let typo = try RingCtl.run(["create", t.path, "--capcity", "8192"])
        #expect(typo.status == 2 && typo.output.contains("--capcity"), "\(typo.output)")
        #expect(!FileManager.default.fileExists(atPath: t.path), "a ring was made despite the typo")
        let command = try RingCtl.run(["inpsect", t.path])
        #expect(command.status == 2 && command.output.contains("inpsect"), "\(command.output)")
        let workload = try RingWorkloadTool.run(["produce", t.path, "--closed"])
        #expect(workload.status == 2 && workload.output.contains("--closed"), "\(workload.output)")
    }

    @Test func inspectJSONShowsEveryFieldTheRolesAndTheWaiters() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        // A producer process blocked on the full ring: it holds the role and sleeps.
        let blocked = try RingWorkloadTool.start(["produce", t.path, "--count", "1000000", "--max-size", "64"])
        let pid = blocked.0.processIdentifier
        while try ring.stats().freeBytes > 100 || ring.waiters().writers == 0 { usleep(1000) }
        let live = try RingCtl.run(["inspect", "--json", t.path])
        #expect(live.status == 0, "\(live.output)")
        let j = try jsonObject(live.output.trimmingCharacters(in: .newlines))
        let header = try #require(j["header"] as? [String: Any])
        for (name, layout) in RingLayout.Header.allFields {
            let raw = layout.size == 8 ? RawFile.get(t.path, layout, as: UInt64.self)
                : layout.size == 4 ? UInt64(RawFile.get(t.path, layout, as: UInt32.self))
                : UInt64(RawFile.get(t.path, layout, as: UInt16.self))
            // Mutable fields may move between the two reads only if someone runs; the producer sleeps.
            #expect((header[name] as? NSNumber)?.uint64Value == raw, "\(name)")
        }
        let roles = try #require(j["roles"] as? [String: [String: Any]])
        #expect(roles["producer"]?["held"] as? Bool == true)
        #expect((roles["producer"]?["ownerPid"] as? NSNumber)?.int32Value == pid)
        #expect(roles["consumer"]?["held"] as? Bool == false)
        #expect(((j["waiters"] as? [String: Any])?["writers"] as? NSNumber)?.intValue == 1)
        #expect(((j["geometry"] as? [String: Any])?["maxMessageSize"] as? NSNumber)?.intValue == ring.maxMessageSize)
        // Killed: the kernel dropped the lock; the owner word names a dead process.
        kill(pid, SIGKILL)
        _ = RingWorkloadTool.finish(blocked)
        let dead = try jsonObject(try RingCtl.run(["inspect", "--json", t.path]).output.trimmingCharacters(in: .newlines))
        let after = try #require((dead["roles"] as? [String: [String: Any]])?["producer"])
        #expect(after["held"] as? Bool == false && after["stale"] as? Bool == true, "\(after)")
        let text = try RingCtl.run(["inspect", t.path]).output
        #expect(text.contains("producerRole free (its last holder, pid \(pid), died without giving it up)"), "\(text)")
    }

    @Test func inspectOfACorruptFileShowsTheFieldsAndTheReason() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096)
        RawFile.write(t.path, at: 0, Array("NOTARING".utf8))
        let r = try RingCtl.run(["inspect", t.path])
        #expect(r.status == 1, "\(r.output)")
        #expect(r.output.contains("capacity 4096") && r.output.contains("bad magic"), "\(r.output)")
    }

    @Test func tailFollowsALiveRingAndStopsAtTheEndOfTheStream() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 20)
        let producer = try ring.makeProducer()
        try producer.write(Array("before".utf8))
        let tail = try RingCtl.start(["tail", "-f", "-n", "1", "--format", "json", "--interval-ms", "5", t.path])
        // A failure before the stream ends would leave tail -f following for ever.
        defer { if tail.0.isRunning { kill(tail.0.processIdentifier, SIGKILL) } }
        let workload = Workload(seed: 2, minSize: 8, maxSize: 100)
        usleep(100_000)
        for i in UInt64(0)..<2000 {
            try producer.write(workload.message(i), timeout: .seconds(10))
            if i % 500 == 0 { usleep(20_000) }
        }
        producer.closeWriter()
        let result = RingCtl.finish(tail)
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 2001, "\(lines.count) lines")
        #expect(try jsonObject(try #require(lines.first))["text"] as? String == "before")
        // Nobody consumed: tail saw every message, whole and in order.
        for (i, line) in lines.dropFirst().enumerated() {
            let hex = try #require(try jsonObject(line)["hex"] as? String ?? (jsonObject(line)["text"] as? String).map {
                Hex.of(Array($0.utf8)) })
            #expect(hex == Hex.of(workload.message(UInt64(i))), "message \(i)")
        }
        // And consumed nothing.
        #expect(try ring.stats().messageCount == 2001)
    }

    @Test func peekShowsWithoutConsuming() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        for text in ["a", "b", "c"] { try producer.write(Array(text.utf8)) }
        let peek = try RingCtl.run(["peek", "-n", "2", t.path])
        #expect(peek.status == 0 && peek.output == "a\nb\n", "\(peek.output)")
        let hex = try RingCtl.run(["peek", "--format", "hex", t.path])
        #expect(hex.output == "61\n62\n63\n", "\(hex.output)")
        #expect(try ring.stats().messageCount == 3)
        let read = try RingCtl.run(["read", "--all", t.path])
        #expect(read.output == "a\nb\nc\n", "\(read.output)")
        #expect(try ring.stats().messageCount == 0)
    }

    @Test func validateExitStatusSaysWhetherTheFileIsSound() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 4096)
        let producer = try ring.makeProducer()
        for text in ["one", "two", "three"] { try producer.write(Array(text.utf8)) }
        let sound = try RingCtl.run(["validate", t.path])
        #expect(sound.status == 0 && sound.output.contains("sound: 3 unread messages"), "\(sound.output)")
        // Bad kind in the second record.
        RawFile.write(t.path, at: 4096 + 16 + 4, [9, 0, 0, 0])
        let bad = try RingCtl.run(["validate", t.path])
        #expect(bad.status == 1 && bad.output.contains("not sound") && bad.output.contains("position 16"), "\(bad.output)")
        let json = try RingCtl.run(["validate", "--json", t.path])
        #expect(json.status == 1)
        #expect(try jsonObject(json.output.trimmingCharacters(in: .newlines))["sound"] as? Bool == false)
        RawFile.truncate(t.path, to: 5000)
        let short = try RingCtl.run(["validate", t.path])
        #expect(short.status == 1 && short.output.contains("not sound"), "\(short.output)")
        let missing = try RingCtl.run(["validate", t.path + ".none"])
        #expect(missing.status == 1 && missing.output.contains("No such file or directory"), "\(missing.output)")
    }

    @Test func listShowsTheRingsOfAFolder() throws {
        let t = TempRing("a.ring")
        let a = try Ring.create(at: t.path, capacity: 4096)
        try a.makeProducer().write(Array("x".utf8))
        _ = try Ring.create(at: t.directory + "/b.ring", capacity: 8192, policy: .overwriteOldest)
        FileManager.default.createFile(atPath: t.directory + "/notes.txt", contents: Data("hello".utf8))
        let list = try RingCtl.run(["list", t.directory])
        #expect(list.status == 0, "\(list.output)")
        let lines = list.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(list.output)")
        #expect(lines[1].hasPrefix("a.ring 4096 rejectWhenFull 1 16 free free open sound"), "\(lines[1])")
        #expect(lines[2].hasPrefix("b.ring 8192 overwriteOldest 0 0 "), "\(lines[2])")
        let all = try RingCtl.run(["list", "--all", "--json", t.directory])
        let objects = try all.output.split(separator: "\n").map { try jsonObject($0) }
        #expect(objects.map { $0["name"] as? String } == ["a.ring", "b.ring", "notes.txt"])
        #expect(objects[2]["sound"] as? Bool == false)
    }

    @Test func statsWatchReportsRatesWhileAProducerRuns() throws {
        let t = TempRing()
        let ring = try Ring.create(at: t.path, capacity: 1 << 16, policy: .overwriteOldest)
        let stop = ManagedFlag()
        let path = t.path
        let writer = Worker { () throws -> Int in
            let producer = try Ring.open(at: path).makeProducer()
            var n = 0
            while !stop.isSet { try producer.write([UInt8](repeating: 7, count: 24)); n += 1; if n % 100 == 0 { usleep(1000) } }
            return n
        }
        let r = try RingCtl.run(["stats", "--watch", "--samples", "2", "--interval-ms", "200", "--json", t.path])
        stop.set()
        _ = try writer.join()
        #expect(r.status == 0, "\(r.output)")
        let samples = try r.output.split(separator: "\n").map { try jsonObject($0) }
        #expect(samples.count == 2)
        for s in samples {
            #expect(((s["inBytesPerSecond"] as? NSNumber)?.doubleValue ?? 0) > 0, "\(s)")
            #expect(((s["inMessagesPerSecond"] as? NSNumber)?.doubleValue ?? 0) > 0, "\(s)")
            #expect(((s["droppedPerSecond"] as? NSNumber)?.doubleValue ?? -1) >= 0, "\(s)")
        }
    }
}

/// Lowercase hex of bytes, as ringctl prints them.
enum Hex {
    static func of(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
