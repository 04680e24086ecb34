// LayoutSpecTests.swift - SPEC.md is the contract: parse its tables and check
// that every offset, size and constant in Layout.swift agrees, both ways.

import Foundation
import Testing
import RingFormat

/// The tables of SPEC.md, parsed.
struct SpecTables {
    var fields: [String: FieldLayout] = [:]
    var duplicateFields: [String] = []
    var constants: [String: UInt64] = [:]
    var duplicateConstants: [String] = []

    static let fieldColumns = ["Offset", "Size", "Type", "Field", "Written by", "Ordering", "Meaning"]
    static let constantColumns = ["Constant", "Value", "Meaning"]

    static var specPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("SPEC.md").path
    }

    init(markdown: String) {
        var columns: [String] = []
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("|") else { columns = []; continue }
            let cells = trimmed.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if columns.isEmpty { columns = cells; continue }
            if cells.allSatisfy({ $0.allSatisfy { "-: ".contains($0) } }) { continue } // separator row
            if columns == Self.fieldColumns, cells.count == columns.count {
                let name = cells[3].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                guard let offset = Int(cells[0]), let size = Int(cells[1]) else { continue }
                if fields[name] != nil { duplicateFields.append(name) }
                fields[name] = FieldLayout(offset: offset, size: size)
            } else if columns == Self.constantColumns, cells.count == columns.count {
                let name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                let text = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
                let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
                guard let value else { continue }
                if constants[name] != nil { duplicateConstants.append(name) }
                constants[name] = value
            }
        }
    }
}

@Suite("SPEC.md agrees with Layout.swift")
struct LayoutSpecTests {
    let spec: SpecTables

    init() throws {
        spec = SpecTables(markdown: try String(contentsOfFile: SpecTables.specPath, encoding: .utf8))
    }

    @Test func everyFieldHasTheSameOffsetAndSize() {
        let swift = RingLayout.Header.allFields + RingLayout.Record.allFields + RingLayout.ReaderSlot.allFields
        #expect(spec.duplicateFields.isEmpty, "fields listed twice in SPEC.md: \(spec.duplicateFields)")
        for (name, layout) in swift {
            #expect(spec.fields[name] == layout, "\(name): SPEC.md \(String(describing: spec.fields[name])), Swift \(layout)")
        }
        let extra = Set(spec.fields.keys).subtracting(swift.map(\.name))
        #expect(extra.isEmpty, "fields in SPEC.md unknown to Layout.swift: \(extra)")
    }

    @Test func everyConstantHasTheSameValue() {
        #expect(spec.duplicateConstants.isEmpty, "constants listed twice: \(spec.duplicateConstants)")
        for (name, value) in RingLayout.specConstants {
            #expect(spec.constants[name] == value, "\(name): SPEC.md \(String(describing: spec.constants[name])), Swift \(value)")
        }
        let extra = Set(spec.constants.keys).subtracting(RingLayout.specConstants.map(\.name))
        #expect(extra.isEmpty, "constants in SPEC.md unknown to Layout.swift: \(extra)")
    }

    @Test func headerFieldsDoNotOverlapAndStayInTheirLines() {
        let fields = RingLayout.Header.allFields.sorted { $0.layout.offset < $1.layout.offset }
        for (a, b) in zip(fields, fields.dropFirst()) {
            #expect(a.layout.offset + a.layout.size <= b.layout.offset, "\(a.name) overlaps \(b.name)")
        }
        for (name, f) in fields {
            #expect(f.offset / RingLayout.lineSize == (f.offset + f.size - 1) / RingLayout.lineSize, "\(name) crosses a line")
            #expect(f.offset % f.size == 0, "\(name) is not naturally aligned")
        }
        // Producer-written and consumer-written words are a full line (128 bytes) apart.
        #expect(RingLayout.Header.consumerPosition.offset - RingLayout.Header.producerPosition.offset >= 128)
        #expect(RingLayout.Header.headerChecksum.offset == RingLayout.checksumCoveredBytes)
    }

    @Test func magicBytesAndValueAgree() {
        let value = RingLayout.magicBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }
        #expect(value == RingLayout.magicValue)
        #expect(String(decoding: RingLayout.magicBytes.prefix(7), as: UTF8.self) == "RINGFMT")
    }
}
