// RingCtlArgumentTests.swift - the numeric options and --policy of ringctl and of the test
// tool ring-workload (issue 12, item 11): a bad value is exit 2 with one line naming the
// option and the value, never a trap.

import Foundation
import Testing
import RingFormat
#if canImport(Glibc)
import Glibc
#endif

/// A ringctl invocation that must be refused: `arguments` after COMMAND PATH.
struct BadArguments: Sendable, CustomTestStringConvertible {
    let command: String
    let arguments: [String]
    /// What the one-line message must contain besides the option (the value, or the other option).
    let mentions: String

    init(_ command: String, _ arguments: [String], mentions: String? = nil) {
        self.command = command
        self.arguments = arguments
        self.mentions = mentions ?? arguments[1]
    }

    var option: String { arguments[0] }
    /// The tool that has the command: the workload commands moved to ring-workload (issue 13).
    var tool: Tool { ["produce", "consume", "crash-produce", "crash-consume"].contains(command) ? RingWorkloadTool : RingCtl }
    var testDescription: String { ([command] + arguments).joined(separator: " ") }
}

/// Runs ringctl, killed after `seconds`: before the fix some bad values (a size over the ring's
/// largest message, --batch 0, --timeout-ms -1) left it blocked on a full ring for ever.
func runBounded(_ tool: Tool, _ arguments: [String], seconds: Double = 20) throws -> (status: Int32, output: String) {
    let started = try tool.start(arguments)
    let deadline = Date() + seconds
    while started.0.isRunning && Date() < deadline { usleep(10_000) }
    if started.0.isRunning { kill(started.0.processIdentifier, SIGKILL) }
    return tool.finish(started)
}

@Suite("ringctl arguments (issue 12, item 11)")
struct RingCtlArgumentTests {
    static let bad: [BadArguments] = [
        // The three traps of the issue.
        BadArguments("produce", ["--count", "-5"]),
        BadArguments("produce", ["--max-size", "-1"]),
        BadArguments("produce", ["--min-size", "100", "--max-size", "10"], mentions: "--max-size 10"),
        // Sizes over the ring's largest message (2040 for capacity 4096), or over the default maximum.
        BadArguments("produce", ["--max-size", "2041"]),
        BadArguments("consume", ["--min-size", "5000"]),
        BadArguments("consume", ["--min-size", "500"], mentions: "--max-size 256"),
        BadArguments("produce", ["--count", "many"]),
        BadArguments("produce", ["--batch", "0"]),
        BadArguments("produce", ["--batch", "-3"]),
        BadArguments("produce", ["--seed", "-1"]),
        BadArguments("produce", ["--timeout-ms", "-1"]),
        BadArguments("produce", ["--count", "99999999999999999999"]),
        BadArguments("consume", ["--count", "-1"]),
        BadArguments("consume", ["--timeout-ms", "1.5"]),
        BadArguments("crash-produce", ["--generation", "-1"]),
        BadArguments("crash-produce", ["--count", "-2"]),
        BadArguments("dump", ["--data-bytes", "-1"]),
        BadArguments("dump", ["--data-bytes", "4097"]),
        BadArguments("create", ["--capacity", "0"]),
        BadArguments("create", ["--capacity", "-4096"]),
        BadArguments("create", ["--capacity", String(RingLayout.maxCapacity + 1)]),
        BadArguments("create", ["--initial-position", "-8"]),
        BadArguments("create", ["--initial-position", "12"]),
        BadArguments("create", ["--mode", "1777"]),
        BadArguments("create", ["--mode", "0o4600"]),
        BadArguments("create", ["--mode", "8"]),
        BadArguments("create", ["--mode", "1000", "--open-or-create"]),
        BadArguments("create", ["--policy", "bogus"]),
        BadArguments("create", ["--policy", "Overwrite"]),
    ]

    @Test(arguments: bad)
    func badValueExitsTwoNamingTheOption(_ bad: BadArguments) throws {
        let t = TempRing()
        // The commands that open a ring find one (capacity 4096); create must not make one.
        let path = bad.command == "create" ? t.path + ".new" : t.path
        _ = try Ring.create(at: t.path, capacity: 4096)
        let result = try runBounded(bad.tool, [bad.command, path] + bad.arguments)
        #expect(result.status == 2, "exit \(result.status) (132 or a signal number is a trap): \(result.output)")
        let message = result.output.trimmingCharacters(in: .newlines)
        #expect(!message.contains("\n"), "more than one line: \(result.output)")
        #expect(message.hasPrefix(bad.tool.name + ": ") && message.contains(bad.option) && message.contains(bad.mentions),
                "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: t.path + ".new"))
    }

    @Test func anUnknownPolicyListsTheAcceptedOnes() throws {
        let t = TempRing()
        let result = try RingCtl.run(["create", t.path, "--policy", "bogus"])
        #expect(result.status == 2)
        #expect(result.output.contains("reject") && result.output.contains("overwrite"), "\(result.output)")
    }

    @Test func goodValuesStillWork() throws {
        let t = TempRing()
        let create = try RingCtl.run(["create", t.path, "--capacity", "4096", "--policy", "overwrite",
                                      "--mode", "640", "--initial-position", "4294967288"])
        #expect(create.status == 0, "\(create.output)")
        #expect(try Ring.open(at: t.path).policy == .overwriteOldest)
        var st = stat()
        #expect(stat(t.path, &st) == 0 && st.st_mode & 0o777 == 0o640)
        // Sizes up to the ring's largest message, given in either order of options.
        let common = ["--count", "20", "--seed", "3", "--max-size", "2040", "--min-size", "2040"]
        let produce = try RingWorkloadTool.run(["produce", t.path, "--batch", "2", "--timeout-ms", "0", "--close"] + common)
        #expect(produce.status == 0, "\(produce.output)")
        let consume = try RingWorkloadTool.run(["consume", t.path, "--until-end", "--timeout-ms", "9223372036854775807"] + common)
        #expect(consume.status == 0, "\(consume.output)")
        #expect(consume.output.contains("consumed "), "\(consume.output)")
        let dump = try RingCtl.run(["dump", t.path, "--data-bytes", "4096"])
        #expect(dump.status == 0, "\(dump.output)")
        let none = try RingWorkloadTool.run(["produce", t.path, "--count", "0"])
        #expect(none.status == 0 && none.output.contains("produced 0 messages"), "\(none.output)")
    }

    @Test func openOrCreateUsesASharedRingOnlyWithAllowShared() throws {
        let t = TempRing()
        _ = try Ring.create(at: t.path, capacity: 4096)
        chmod(t.path, 0o666)
        let refused = try RingCtl.run(["create", t.path, "--capacity", "4096", "--open-or-create"])
        #expect(refused.status == 1 && refused.output.contains("errno \(EPERM)"), "\(refused.output)")
        let allowed = try RingCtl.run(["create", t.path, "--capacity", "4096", "--open-or-create", "--allow-shared"])
        #expect(allowed.status == 0 && allowed.output.contains("capacity 4096"), "\(allowed.output)")
        // A new ring through open-or-create takes --mode.
        let fresh = try RingCtl.run(["create", t.path + ".2", "--capacity", "4096", "--open-or-create", "--mode", "0o600"])
        #expect(fresh.status == 0, "\(fresh.output)")
    }
}
