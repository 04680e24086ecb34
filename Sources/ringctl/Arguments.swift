// Arguments.swift - the values ringctl's options take: numbers checked against
// their limits (NumberLimit), policies, output formats, timeouts.

import ArgumentParser
import RingFormat
import RingWorkload

/// `text` as a number `limit` accepts, or a ValidationError naming `name` and `text`.
func checked(_ name: String, _ text: String, _ limit: NumberLimit, note: String = "") throws -> UInt64 {
    switch limit.parse(name, text, note: note) {
    case .success(let value): return value
    case .failure(let error): throw ValidationError(error.description)
    }
}

/// The limits of ringctl's numeric options.
enum Limits {
    static let capacity = NumberLimit(1...RingLayout.maxCapacity)
    static let position = NumberLimit(0...UInt64.max, step: UInt64(RingLayout.recordAlignment))
    /// A typed ring's positions count items: any u64 (SPEC.md §19.3).
    static let itemPosition = NumberLimit(0...UInt64.max)
    static let mode = NumberLimit(0...0o777, radix: 8)
    static let count = NumberLimit(0...Int.max)
    static let milliseconds = NumberLimit(0...Int.max)
    static let positiveMilliseconds = NumberLimit(1...Int.max)
    static let dataBytes = NumberLimit(0...RingLayout.maxCapacity)
    static let readerSlots = NumberLimit(0...RingLayout.maxReaderSlots(headerSize: RingLayout.maxHeaderSize))
    static let producerSlots = NumberLimit(0...RingLayout.maxProducerSlots)
    static let itemAlignment = NumberLimit(0...RingLayout.maxItemAlignment)
}

/// --policy: what a write into a full ring does.
enum PolicyArgument: String, ExpressibleByArgument, CaseIterable {
    case reject, overwrite

    var policy: RingPolicy { self == .reject ? .rejectWhenFull : .overwriteOldest }

    init?(argument: String) { self.init(rawValue: argument) }
}

/// --format: how a message is printed.
enum MessageFormat: String, ExpressibleByArgument, CaseIterable {
    /// The bytes as UTF-8 text (invalid sequences shown as U+FFFD), one message a line.
    case text
    /// The bytes in hexadecimal, one message a line.
    case hex
    /// One JSON object a line: position, length, and "text" (valid UTF-8) or "hex".
    case json
}

/// Options shared by the commands that print messages.
struct FormatOptions: ParsableArguments {
    @Option(help: "Output: text, hex or json (JSON lines with position and length).")
    var format: MessageFormat = .text
}

/// --timeout-ms for commands that may wait.
struct TimeoutOption: ParsableArguments {
    @Option(name: .customLong("timeout-ms"), parsing: .unconditional, help: "Wait up to this many milliseconds (default: do not wait).")
    var timeoutMs: String?

    mutating func validate() throws {
        if let t = timeoutMs { _ = try checked("--timeout-ms", t, Limits.milliseconds) }
    }

    /// The timeout; zero when none was given.
    var duration: Duration {
        guard let t = timeoutMs, let ms = Int(t) else { return .zero }
        return .milliseconds(ms)
    }
}
