// HeaderSpecTests.swift - the public C headers agree with SPEC.md and with
// Layout.swift: every constant, every field offset and size of the header, records,
// reader slots and producer slots (ringformat_layout.h), every error code (ringformat.h).

import Foundation
import Testing
import RingFormat

/// `#define RING_NAME value` and `RING_ERR_X = -n` lines of a header in Sources/CRingABI/include.
struct CHeader {
    var defines: [String: UInt64] = [:]
    var enumValues: [String: Int] = [:]
    var includes: [String] = []

    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/CRingABI/include/" + name).path
    }

    init(file name: String) throws {
        self.init(text: try String(contentsOfFile: CHeader.path(name), encoding: .utf8))
    }

    init(text: String) {
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.count >= 3, words[0] == "#define", words[1].hasPrefix("RING_") {
                var v = words[2]
                while v.hasSuffix("U") || v.hasSuffix("L") { v.removeLast() }
                let value = v.hasPrefix("0x") ? UInt64(v.dropFirst(2), radix: 16) : UInt64(v)
                if let value { defines[String(words[1].dropFirst(5))] = value }
            } else if words.count >= 2, words[0] == "#include" {
                includes.append(words[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"<>")))
            } else if words.count >= 3, words[0].hasPrefix("RING_"), words[1] == "=" {
                let v = words[2].trimmingCharacters(in: CharacterSet(charactersIn: ","))
                if let value = Int(v) { enumValues[words[0]] = value }
            }
        }
    }
}

/// camelCase to UPPER_SNAKE: producerPosition -> PRODUCER_POSITION.
func upperSnake(_ name: String) -> String {
    var out = ""
    for ch in name {
        if ch.isUppercase { out += "_" }
        out += ch.uppercased()
    }
    return out
}

@Suite("ringformat_layout.h and ringformat.h agree with SPEC.md and Layout.swift")
struct HeaderSpecTests {
    /// ringformat.h: the API (error codes), which includes the layout header.
    let header: CHeader
    /// ringformat_layout.h: the format's constants and field offsets.
    let layout: CHeader

    init() throws {
        header = try CHeader(file: "ringformat.h")
        layout = try CHeader(file: "ringformat_layout.h")
    }

    @Test func constants() {
        for (name, value) in RingLayout.specConstants {
            #expect(layout.defines[name] == value, "RING_\(name): header \(String(describing: layout.defines[name])), Swift \(value)")
        }
    }

    @Test func fieldOffsetsAndSizes() {
        for (name, f) in RingLayout.Header.allFields + RingLayout.Record.allFields {
            let key = upperSnake(name)
            #expect(layout.defines["OFFSET_" + key] == UInt64(f.offset), "RING_OFFSET_\(key)")
            #expect(layout.defines["SIZE_" + key] == UInt64(f.size), "RING_SIZE_\(key)")
        }
        for (name, f) in RingLayout.ReaderSlot.allFields {
            let key = upperSnake(name)
            #expect(layout.defines["SLOT_OFFSET_" + key] == UInt64(f.offset), "RING_SLOT_OFFSET_\(key)")
            #expect(layout.defines["SLOT_SIZE_" + key] == UInt64(f.size), "RING_SLOT_SIZE_\(key)")
        }
        for (name, f) in RingLayout.ProducerSlot.allFields {
            let key = upperSnake(name)
            #expect(layout.defines["PSLOT_OFFSET_" + key] == UInt64(f.offset), "RING_PSLOT_OFFSET_\(key)")
            #expect(layout.defines["PSLOT_SIZE_" + key] == UInt64(f.size), "RING_PSLOT_SIZE_\(key)")
        }
    }

    /// Every producer-slot field lies inside a slot, naturally aligned, and none overlaps another.
    @Test func producerSlotFieldsFitTheirSlot() {
        let fields = RingLayout.ProducerSlot.allFields.sorted { $0.layout.offset < $1.layout.offset }
        for (a, b) in zip(fields, fields.dropFirst()) {
            #expect(a.layout.offset + a.layout.size <= b.layout.offset, "\(a.name) overlaps \(b.name)")
        }
        for (name, f) in fields {
            #expect(f.offset % f.size == 0 && f.offset + f.size <= RingLayout.producerSlotSize, "\(name)")
        }
        #expect(layout.defines["PRODUCER_SLOT_SIZE"].map(Int.init) == RingLayout.producerSlotSize)
        #expect(RingLayout.producerSlotSize * RingLayout.maxProducerSlots == RingLayout.producerTableReserve)
    }

    /// The layout lives in one header: it defines nothing else, and ringformat.h
    /// includes it and defines none of it again.
    @Test func layoutIsOnlyInTheLayoutHeader() {
        var expected = Set(RingLayout.specConstants.map(\.name))
        for (name, _) in RingLayout.Header.allFields + RingLayout.Record.allFields {
            expected.insert("OFFSET_" + upperSnake(name))
            expected.insert("SIZE_" + upperSnake(name))
        }
        for (name, _) in RingLayout.ReaderSlot.allFields {
            expected.insert("SLOT_OFFSET_" + upperSnake(name))
            expected.insert("SLOT_SIZE_" + upperSnake(name))
        }
        for (name, _) in RingLayout.ProducerSlot.allFields {
            expected.insert("PSLOT_OFFSET_" + upperSnake(name))
            expected.insert("PSLOT_SIZE_" + upperSnake(name))
        }
        #expect(Set(layout.defines.keys) == expected, "ringformat_layout.h: extra \(Set(layout.defines.keys).subtracting(expected)), missing \(expected.subtracting(layout.defines.keys))")
        #expect(header.includes.contains("ringformat_layout.h"))
        #expect(Set(header.defines.keys).isDisjoint(with: expected), "ringformat.h redefines \(Set(header.defines.keys).intersection(expected))")
    }

    @Test func errorCodesMatchSpecTable() throws {
        // SPEC.md §15: | Error | Swift | C | Python | Meaning | with C cells like "RING_ERR_FULL (-1)".
        let spec = try String(contentsOfFile: SpecTables.specPath, encoding: .utf8)
        var fromSpec: [String: Int] = [:]
        for line in spec.split(separator: "\n") where line.hasPrefix("|") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3 else { continue }
            let c = cells[2]
            guard c.hasPrefix("RING_"), let open = c.firstIndex(of: "("), let close = c.firstIndex(of: ")") else { continue }
            let name = String(c[..<open]).trimmingCharacters(in: .whitespaces)
            if let code = Int(c[c.index(after: open)..<close]) { fromSpec[name] = code }
        }
        #expect(fromSpec.count == 15, "SPEC.md §15 (and §22.1) list \(fromSpec.count) codes")
        for (name, code) in fromSpec {
            #expect(header.enumValues[name] == code, "\(name): header \(String(describing: header.enumValues[name])), SPEC.md \(code)")
        }
        #expect(Set(header.enumValues.keys.filter { $0.hasPrefix("RING_ERR_") || $0 == "RING_OK" }) == Set(fromSpec.keys))
    }
}
