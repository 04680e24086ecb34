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

    /// The producer-slot table of SPEC.md §18.2 (| Offset | Size | Field | Written by | Meaning |,
    /// the type in the Field cell: "`state` (u32)"): its fields, and each one's type size.
    var producerSlotFields: [String: FieldLayout] = [:]
    var producerSlotTypeSizes: [String: Int] = [:]
    var duplicateProducerSlotFields: [String] = []
    /// The header fields of SPEC.md §18.1's table (| Bytes | Field | Meaning |, bytes like
    /// "identity 40..43" or "176..179"), with each one's type size.
    var producerHeaderFields: [String: FieldLayout] = [:]
    var producerHeaderTypeSizes: [String: Int] = [:]

    static let producerSlotColumns = ["Offset", "Size", "Field", "Written by", "Meaning"]
    static let producerHeaderColumns = ["Bytes", "Field", "Meaning"]

    /// The rows of the first table under the heading that starts with `heading`, up to the next
    /// heading, if its columns are `columns`: each row's cells. Nil if there is no such table.
    static func table(in markdown: String, under heading: String, columns: [String]) -> [[String]]? {
        var inSection = false
        var header: [String]? = nil
        var rows: [[String]] = []
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") {
                if inSection { break }
                inSection = trimmed.hasPrefix(heading + " ") || trimmed == heading
                continue
            }
            guard inSection else { continue }
            guard trimmed.hasPrefix("|") else {
                if header != nil { break } // the end of the first table
                continue
            }
            let cells = trimmed.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if header == nil { header = cells; continue }
            if cells.allSatisfy({ $0.allSatisfy { "-: ".contains($0) } }) { continue } // separator row
            rows.append(cells)
        }
        return header == columns ? rows : nil
    }

    /// "`name` (u32)" -> ("name", 4); u8[n] is n bytes. Nil if the cell is not of that form.
    static func nameAndTypeSize(_ cell: String) -> (String, Int)? {
        let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty else { return nil }
        let rest = parts[2].trimmingCharacters(in: .whitespaces)
        guard rest.hasPrefix("("), rest.hasSuffix(")") else { return nil }
        let type = rest.dropFirst().dropLast()
        let sizes = ["u8": 1, "u16": 2, "u32": 4, "u64": 8]
        if let size = sizes[String(type)] { return (String(parts[1]), size) }
        if type.hasPrefix("u8["), type.hasSuffix("]"), let n = Int(type.dropFirst(3).dropLast()) { return (String(parts[1]), n) }
        return nil
    }

    init(markdown: String) {
        if let rows = Self.table(in: markdown, under: "### 18.2", columns: Self.producerSlotColumns) {
            for cells in rows where cells.count == Self.producerSlotColumns.count {
                guard let offset = Int(cells[0]), let size = Int(cells[1]),
                      let (name, typeSize) = Self.nameAndTypeSize(cells[2]) else { continue }
                if producerSlotFields[name] != nil { duplicateProducerSlotFields.append(name) }
                producerSlotFields[name] = FieldLayout(offset: offset, size: size)
                producerSlotTypeSizes[name] = typeSize
            }
        }
        if let rows = Self.table(in: markdown, under: "### 18.1", columns: Self.producerHeaderColumns) {
            for cells in rows where cells.count == Self.producerHeaderColumns.count {
                var bytes = Substring(cells[0])
                if bytes.hasPrefix("identity ") { bytes = bytes.dropFirst("identity ".count) }
                let ends = bytes.components(separatedBy: "..")
                guard ends.count == 2, let first = Int(ends[0]), let last = Int(ends[1]), last >= first,
                      let (name, typeSize) = Self.nameAndTypeSize(cells[1]) else { continue }
                producerHeaderFields[name] = FieldLayout(offset: first, size: last - first + 1)
                producerHeaderTypeSizes[name] = typeSize
            }
        }
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

    /// SPEC.md §18.2's producer-slot table against RingLayout.ProducerSlot, both ways; the
    /// type in each Field cell agrees with its Size; the slot's fields fit in PRODUCER_SLOT_SIZE.
    @Test func producerSlotFieldsMatchSpecTable() {
        let swift = RingLayout.ProducerSlot.allFields
        #expect(spec.producerSlotFields.count >= 8, "SPEC.md §18.2: \(spec.producerSlotFields.count) producer-slot fields parsed")
        #expect(spec.duplicateProducerSlotFields.isEmpty, "producer-slot fields listed twice: \(spec.duplicateProducerSlotFields)")
        for (name, layout) in swift {
            #expect(spec.producerSlotFields[name] == layout,
                    "producer slot \(name): SPEC.md \(String(describing: spec.producerSlotFields[name])), Swift \(layout)")
        }
        let extra = Set(spec.producerSlotFields.keys).subtracting(swift.map(\.name))
        #expect(extra.isEmpty, "producer-slot fields in SPEC.md unknown to Layout.swift: \(extra)")
        for (name, layout) in spec.producerSlotFields {
            #expect(spec.producerSlotTypeSizes[name] == layout.size, "producer slot \(name): type size \(String(describing: spec.producerSlotTypeSizes[name])), Size \(layout.size)")
            #expect(layout.offset % layout.size == 0 && layout.offset + layout.size <= RingLayout.producerSlotSize,
                    "producer slot \(name) is misaligned or outside the slot")
        }
    }

    /// SPEC.md §18.1's table of the header words of several producers agrees with Layout.swift.
    @Test func producerHeaderFieldsMatchSpecTable() {
        #expect(Set(spec.producerHeaderFields.keys) == ["producerSlots", "claimPosition", "heldClaims", "reclaimOwner"],
                "SPEC.md §18.1 fields: \(spec.producerHeaderFields.keys.sorted())")
        let swift = Dictionary(uniqueKeysWithValues: RingLayout.Header.allFields.map { ($0.name, $0.layout) })
        for (name, layout) in spec.producerHeaderFields {
            #expect(swift[name] == layout, "\(name): SPEC.md §18.1 \(layout), Swift \(String(describing: swift[name]))")
            #expect(spec.producerHeaderTypeSizes[name] == layout.size, "\(name): type and bytes disagree")
        }
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
