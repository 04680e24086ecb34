// ZmqFrameTests.swift - SPEC.md §23.2-§23.5: the frame header's bytes, the record
// encoding of the body, and every rule that drops a frame, through Frame.parse alone.

#if canImport(Glibc)
import Glibc
#endif
import Testing
import RingFormat
@testable import RingZmq

@Suite("Zmq frames (SPEC.md §23.2-§23.5)")
struct ZmqFrameTests {
    typealias H = WireLayout.Header

    /// The frame of SPEC.md §23.8's worked example: stream 0x1122334455667788, messages
    /// "hi" and "world" with indices 5 and 6, the first at position 0x50.
    static let example = Frame.encode(kind: .data, streamId: 0x1122_3344_5566_7788, firstIndex: 5,
                                      firstPosition: 0x50, messages: [Array("hi".utf8), Array("world".utf8)])

    @Test func theHeaderFieldsTileFortyEightBytes() {
        var end = 0
        for (name, field) in H.allFields {
            #expect(field.offset == end, "\(name)")
            #expect(field.offset % field.size == 0, "\(name) is naturally aligned")
            end = field.offset + field.size
        }
        #expect(end == WireLayout.headerSize && WireLayout.headerSize % 8 == 0)
        // The wire magic is not the file's: a ring file is never taken for a frame.
        #expect(WireLayout.magic != UInt32(truncatingIfNeeded: RingLayout.magicValue))
        #expect(Array("RNGW".utf8) == withUnsafeBytes(of: WireLayout.magic.littleEndian) { Array($0) })
    }

    /// The "| Wire constant | Value | Meaning |" table of SPEC.md §23.1, parsed: name -> value.
    static func specWireConstants() throws -> [String: UInt64] {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        guard let file = fopen(path + "/SPEC.md", "r") else { throw RingError.invalidArgument("no SPEC.md at \(path)") }
        defer { fclose(file) }
        var constants: [String: UInt64] = [:]
        var inTable = false
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!).trimmingSuffix("\n")
            if text.hasPrefix("| Wire constant |") { inTable = true; continue }
            guard inTable else { continue }
            guard text.hasPrefix("|") else { inTable = false; continue }
            let cells = text.split(separator: "|").map { $0.trimmingCharacters() }
            guard cells.count >= 2, cells[0].hasPrefix("`") else { continue }
            let name = String(cells[0].dropFirst().dropLast())
            let value = cells[1].hasPrefix("0x") ? UInt64(cells[1].dropFirst(2), radix: 16) : UInt64(cells[1])
            constants[name] = value
        }
        free(line)
        return constants
    }

    @Test func theWireConstantsAreThoseOfTheSpec() throws {
        let spec = try Self.specWireConstants()
        var code: [String: UInt64] = ["WIRE_MAGIC": UInt64(WireLayout.magic), "WIRE_VERSION": UInt64(WireLayout.version),
                                      "FRAME_HEADER_SIZE": UInt64(WireLayout.headerSize)]
        for kind in FrameKind.allCases { code["FRAME_\(kind)".uppercased()] = UInt64(kind.rawValue) }
        for (name, value) in code { #expect(spec[name] == value, "SPEC.md §23.1 \(name): \(String(describing: spec[name])), code \(value)") }
        #expect(spec.count >= code.count, "SPEC.md §23.1 lists \(spec.count) wire constants")
    }

    @Test func theWorkedExampleIsByteForByteAsSpecified() throws {
        let hex = Self.example.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex ==
            "524e4757" + "0100" + "0100" + "00000000" + "02000000" + "20000000" + "00000000"
            + "8877665544332211" + "0500000000000000" + "5000000000000000"
            + "02000000" + "01000000" + "6869" + "000000000000"
            + "05000000" + "01000000" + "776f726c64" + "000000")
        let parsed = try parse(Self.example)
        #expect(parsed.header == FrameHeader(kind: .data, count: 2, bodyLength: 32, streamId: 0x1122_3344_5566_7788,
                                             firstIndex: 5, firstPosition: 0x50))
        #expect(parsed.payloads.map { Array(Self.example[$0]) } == [Array("hi".utf8), Array("world".utf8)])
    }

    @Test func emptyAndLargeMessagesRoundTrip() throws {
        let messages: [[UInt8]] = [[], [7], Array(repeating: 0xAB, count: 8), Array(repeating: 1, count: 70_001)]
        let frame = Frame.encode(kind: .data, streamId: 1, firstIndex: 0, firstPosition: 0, messages: messages)
        #expect(frame.count == 48 + 8 + 16 + 16 + Frame.recordSize(payload: 70_001))
        let parsed = try parse(frame)
        #expect(parsed.payloads.map { Array(frame[$0]) } == messages)
    }

    @Test func anEndFrameHasNoBody() throws {
        let end = Frame.encode(kind: .end, streamId: 9, firstIndex: 12, firstPosition: 960)
        #expect(end.count == 48)
        let parsed = try parse(end)
        #expect(parsed.header.kind == .end && parsed.header.firstIndex == 12 && parsed.payloads.isEmpty)
    }

    /// Each way a frame breaks §23.5, made from a good frame, and the error it must give.
    static func malformed() -> [(String, [UInt8], FrameError)] {
        let good = example
        func with(_ f: (inout [UInt8]) -> Void) -> [UInt8] { var b = good; f(&b); return b }
        func set32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b.replaceSubrange(at..<(at + 4), with: $0) } }
        func set16(_ b: inout [UInt8], _ at: Int, _ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { b.replaceSubrange(at..<(at + 2), with: $0) } }
        return [
            ("wrong magic", with { $0[0] = 0x58 }, .badMagic(0x5747_4E58)),
            ("a ring file's magic", with { set32(&$0, 0, 0x474E_4952) }, .badMagic(0x474E_4952)),
            ("wrong version", with { set16(&$0, 4, 2) }, .badVersion(2)),
            ("unknown kind", with { set16(&$0, 6, 9) }, .unknownKind(9)),
            ("kind zero", with { set16(&$0, 6, 0) }, .unknownKind(0)),
            ("unknown flags", with { set32(&$0, 8, 4) }, .unknownFlags(4)),
            ("truncated header", Array(good.prefix(20)), .truncated(size: 20)),
            ("empty message", [], .truncated(size: 0)),
            ("truncated body", Array(good.prefix(good.count - 8)), .lengthMismatch(declared: 32, actual: 24)),
            ("lying length", with { set32(&$0, 16, 4096) }, .lengthMismatch(declared: 4096, actual: 32)),
            ("record past end", with { set32(&$0, 64, 200) }, .recordPastEnd(record: 1, offset: 64)),
            ("huge record length", with { set32(&$0, 48, 0xFFFF_FFF0) }, .recordPastEnd(record: 0, offset: 48)),
            ("bad record kind", with { set32(&$0, 68, 2) }, .badRecordKind(record: 1, kind: 2)),
            ("count too large", with { set32(&$0, 12, 3) }, .countMismatch(declared: 3, found: 2)),
            ("count too small", with { set32(&$0, 12, 1) }, .countMismatch(declared: 1, found: 2)),
            ("count zero", with { set32(&$0, 12, 0) }, .countMismatch(declared: 0, found: 2)),
            ("data without records", Frame.encode(kind: .data, streamId: 1, firstIndex: 0, firstPosition: 0),
             .countMismatch(declared: 0, found: 0)),
            ("partial record header", with { set32(&$0, 16, 36); $0 += [0, 0, 0, 0] }, .recordPastEnd(record: 2, offset: 80)),
            ("end with a body", with { set16(&$0, 6, FrameKind.end.rawValue) }, .unexpectedBody(kind: 2)),
        ]
    }

    @Test func everyBrokenRuleDropsTheFrameWithItsReason() {
        for (name, bytes, expected) in Self.malformed() {
            #expect(throws: expected, "\(name)") { try parse(bytes) }
        }
    }

    @Test func randomDamageIsRefusedOrParsedNeverACrash() {
        var rng = SystemRandomNumberGenerator()
        let base = Frame.encode(kind: .data, streamId: 3, firstIndex: 0, firstPosition: 0,
                                messages: (0..<20).map { Array(repeating: UInt8($0), count: $0 * 5) })
        var refused = 0
        for _ in 0..<20_000 {
            var b = base
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: b = Array(b.prefix(Int.random(in: 0..<b.count, using: &rng)))
            case 1: for _ in 0..<Int.random(in: 1...4, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            default: b = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            do {
                let parsed = try parse(b)
                // Whatever passes, every payload lies inside the frame.
                for r in parsed.payloads { #expect(r.lowerBound >= 48 && r.upperBound <= b.count) }
            } catch { refused += 1 }
        }
        #expect(refused > 10_000)
    }

    private func parse(_ bytes: [UInt8]) throws -> ParsedFrame {
        try bytes.withUnsafeBytes { try Frame.parse($0) }
    }
}

private extension StringProtocol {
    /// The text without `suffix` at its end, if it ends so.
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : String(self) }
    /// The text without spaces at either end.
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
