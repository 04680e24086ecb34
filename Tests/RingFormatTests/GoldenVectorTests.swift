// GoldenVectorTests.swift - interop/vectors (SPEC.md §16.5): running each .ops file
// makes a file byte-identical to the committed .ring, and reading each committed .ring
// gives exactly its .expect (state and unread messages, or a typed ring's items, §19).

import Foundation
import Testing
import RingFormat
import RingWorkload

enum Vectors {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("interop/vectors")
    }

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".ops") }.map { String($0.dropLast(4)) }.sorted()
    }
}

@Suite("Golden vectors (interop/vectors)")
struct GoldenVectorTests {
    @Test func thereAreVectors() {
        #expect(Vectors.names.count >= 9)
        #expect(Vectors.names.filter { $0.hasPrefix("items-") }.count >= 4)
    }

    @Test(arguments: Vectors.names)
    func writerMakesTheSameBytes(name: String) throws {
        let t = TempRing(name + ".ring")
        try GoldenVector.run(opsPath: Vectors.directory.appendingPathComponent(name + ".ops").path, output: t.path)
        let made = try Data(contentsOf: URL(fileURLWithPath: t.path))
        let golden = try Data(contentsOf: Vectors.directory.appendingPathComponent(name + ".ring"))
        #expect(made.count == golden.count)
        let firstDifference = zip(made, golden).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(name): first differing byte at offset \(firstDifference ?? -1)")
    }

    @Test(arguments: Vectors.names)
    func readerSeesExactlyTheExpectation(name: String) throws {
        let t = TempRing(name + ".ring")
        try FileManager.default.copyItem(at: Vectors.directory.appendingPathComponent(name + ".ring"),
                                         to: URL(fileURLWithPath: t.path))
        let expected = try String(contentsOf: Vectors.directory.appendingPathComponent(name + ".expect"), encoding: .utf8)
        #expect(try GoldenVector.expectation(of: t.path) == expected)
        let closed = expected.contains("writerClosed 1")
        let ring = try Ring.open(at: t.path)
        if ring.geometry.isTyped {
            try consumeItems(of: ring, expected: expected, closed: closed)
            return
        }
        // And consuming them all gives the same messages, then empty (or end of stream); a
        // ring with readers is read by a new reader from the oldest message.
        let consumer = ring.geometry.hasReaders
            ? try ring.makeReader(ReaderOptions(gating: ring.policy == .rejectWhenFull)) : try ring.makeConsumer()
        let messages = expected.split(separator: "\n").filter { $0 == "message" || $0.hasPrefix("message ") }
        for line in messages {
            let hex = line.dropFirst("message".count).trimmingCharacters(in: .whitespaces)
            #expect(GoldenVector.hexString(try consumer.read()) == hex)
        }
        #expect(throws: closed ? RingError.endOfStream : RingError.empty) { try consumer.read() }
    }

    /// A typed ring: consuming the items one read at a time gives the `item` lines, then
    /// nothing (0 items) or the end of the stream.
    func consumeItems(of ring: Ring, expected: String, closed: Bool) throws {
        let consumer = try ring.makeItemConsumer()
        let items = expected.split(separator: "\n").filter { $0.hasPrefix("item ") }.map { $0.dropFirst("item ".count) }
        var buffer = [UInt8](repeating: 0, count: consumer.itemSize * 2)
        for hex in items {
            #expect(try buffer.withUnsafeMutableBytes { try consumer.read(into: $0, maxItems: 1) } == 1)
            #expect(GoldenVector.hexString(buffer.prefix(consumer.itemSize)) == hex)
        }
        if closed {
            #expect(throws: RingError.endOfStream) { try buffer.withUnsafeMutableBytes { try consumer.read(into: $0, maxItems: 2) } }
        } else {
            #expect(try buffer.withUnsafeMutableBytes { try consumer.read(into: $0, maxItems: 2) } == 0)
        }
    }
}
