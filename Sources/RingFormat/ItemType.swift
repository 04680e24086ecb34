// ItemType.swift - SPEC.md §19.2 in Swift: the portable type description of a
// typed ring's items, parsed and checked in one place. A description is ASCII
// with no spaces; every type has exactly one spelling, so descriptions compare
// as strings.

/// The type of a typed ring's items (SPEC.md §19.2): a checked description and its size.
///
/// ```
/// let price = try ItemType("<f8")                                   // Double
/// let quote = try ItemType("{ts:<i8@0,px:<f8@8,qty:<i4@16}24")      // a C struct of 24 bytes
/// ```
public struct ItemType: Sendable, Hashable, CustomStringConvertible {
    /// The description, exactly as SPEC.md §19.2 spells it.
    public let description: String
    /// Bytes of one item: the description's size.
    public let size: Int

    /// Parses and checks `description`.
    /// - Throws: `invalidArgument` naming what is wrong and where.
    public init(_ description: String) throws(RingError) {
        do throws(ItemTypeParser.Failure) {
            size = try ItemTypeParser.size(of: Array(description.utf8))
        } catch {
            throw .invalidArgument("type description \"\(description)\": \(error.text)")
        }
        self.description = description
    }

    /// Int8.
    public static let int8 = scalar("|i1")
    /// Little-endian Int16.
    public static let int16 = scalar("<i2")
    /// Little-endian Int32.
    public static let int32 = scalar("<i4")
    /// Little-endian Int64.
    public static let int64 = scalar("<i8")
    /// UInt8.
    public static let uint8 = scalar("|u1")
    /// Little-endian UInt16.
    public static let uint16 = scalar("<u2")
    /// Little-endian UInt32.
    public static let uint32 = scalar("<u4")
    /// Little-endian UInt64.
    public static let uint64 = scalar("<u8")
    /// A little-endian IEEE 754 float32.
    public static let float32 = scalar("<f4")
    /// A little-endian IEEE 754 float64.
    public static let float64 = scalar("<f8")

    /// `count` opaque bytes (1 to MAX_ITEM_SIZE).
    /// - Throws: `invalidArgument` for another count.
    public static func bytes(_ count: Int) throws(RingError) -> ItemType { try ItemType("|V\(count)") }

    /// A description known to be valid (the constants above).
    private static func scalar(_ text: String) -> ItemType {
        // try!: the callers' descriptions are valid by construction.
        try! ItemType(text)
    }
}

/// The grammar of SPEC.md §19.2, over the description's bytes.
enum ItemTypeParser {
    /// Why a description is refused, and where.
    struct Failure: Error {
        let text: String
    }

    /// Most levels of nesting (structs and arrays) and fields per struct.
    static let maxDepth = 8
    static let maxFields = 64
    static let maxNameLength = 64

    /// The size of the whole description; throws unless it is exactly one valid type.
    static func size(of bytes: [UInt8]) throws(Failure) -> Int {
        guard !bytes.isEmpty else { throw Failure(text: "empty") }
        guard bytes.count <= RingLayout.maxTypeLength else {
            throw Failure(text: "\(bytes.count) bytes, more than \(RingLayout.maxTypeLength)")
        }
        var parser = Cursor(bytes: bytes)
        let size = try parser.type(depth: 0)
        guard parser.at == bytes.count else { throw parser.fail("unexpected text after the type") }
        guard size >= 1, size <= RingLayout.maxItemSize else {
            throw Failure(text: "size \(size), not 1 to \(RingLayout.maxItemSize)")
        }
        return size
    }

    /// A position in the description while parsing.
    struct Cursor {
        let bytes: [UInt8]
        var at = 0

        func fail(_ why: String) -> Failure { Failure(text: "\(why) at offset \(at)") }

        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func expect(_ c: Character) throws(Failure) {
            guard peek == c.asciiValue else { throw fail("expected \"\(c)\"") }
            at += 1
        }

        /// type = scalar | array | struct
        mutating func type(depth: Int) throws(Failure) -> Int {
            switch peek {
            case UInt8(ascii: "("): return try array(depth: depth)
            case UInt8(ascii: "{"): return try structure(depth: depth)
            default: return try scalar()
            }
        }

        /// A decimal number without a leading zero, at least 1 (0 too with `allowZero`), at most `limit`.
        mutating func number(limit: Int = RingLayout.maxItemSize, allowZero: Bool = false) throws(Failure) -> Int {
            let start = at
            var value = 0
            while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                at += 1
                if value > limit { throw Failure(text: "number larger than \(limit) at offset \(start)") }
            }
            guard at > start else { throw fail("expected a number") }
            guard bytes[start] != UInt8(ascii: "0") || at - start == 1 else {
                throw Failure(text: "number with a leading zero at offset \(start)")
            }
            guard value > 0 || allowZero else { throw Failure(text: "zero where a size or dimension is needed at offset \(start)") }
            return value
        }

        /// scalar = order kind size
        mutating func scalar() throws(Failure) -> Int {
            let start = at
            guard let order = peek, [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|")].contains(order) else {
                throw fail("expected a type: \"<\", \">\", \"|\", \"(\" or \"{\"")
            }
            at += 1
            guard let kind = peek else { throw fail("expected a kind") }
            at += 1
            let size = try number()
            let sizes: [Int]?
            switch kind {
            case UInt8(ascii: "b"): sizes = [1]
            case UInt8(ascii: "i"), UInt8(ascii: "u"): sizes = [1, 2, 4, 8]
            case UInt8(ascii: "f"): sizes = [2, 4, 8]
            case UInt8(ascii: "c"): sizes = [8, 16]
            case UInt8(ascii: "S"), UInt8(ascii: "V"): sizes = nil
            default: throw Failure(text: "unknown kind \"\(Character(Unicode.Scalar(kind)))\" at offset \(start + 1)")
            }
            if let sizes, !sizes.contains(size) {
                throw Failure(text: "kind \"\(Character(Unicode.Scalar(kind)))\" has no size \(size) (offset \(start))")
            }
            // Canonical order: "|" for size 1 and for S and V, "<" or ">" otherwise.
            let needsBar = size == 1 || sizes == nil
            if needsBar != (order == UInt8(ascii: "|")) {
                throw Failure(text: needsBar ? "a byte-order mark on a type without one (use \"|\") at offset \(start)"
                                             : "\"|\" on a type of several bytes (use \"<\" or \">\") at offset \(start)")
            }
            return size
        }

        /// array = "(" dim ("," dim)* ")" type
        mutating func array(depth: Int) throws(Failure) -> Int {
            guard depth < ItemTypeParser.maxDepth else { throw fail("nested more than \(ItemTypeParser.maxDepth) levels") }
            try expect("(")
            var count = try number()
            while peek == UInt8(ascii: ",") {
                at += 1
                count *= try number()
                if count > RingLayout.maxItemSize { throw fail("sub-array of more than \(RingLayout.maxItemSize) elements") }
            }
            try expect(")")
            let element = try type(depth: depth + 1)
            let size = count * element
            if size > RingLayout.maxItemSize { throw fail("sub-array larger than \(RingLayout.maxItemSize) bytes") }
            return size
        }

        /// struct = "{" field ("," field)* "}" size; field = name ":" type "@" offset
        mutating func structure(depth: Int) throws(Failure) -> Int {
            guard depth < ItemTypeParser.maxDepth else { throw fail("nested more than \(ItemTypeParser.maxDepth) levels") }
            try expect("{")
            var fields: [(name: ArraySlice<UInt8>, offset: Int, size: Int, at: Int)] = []
            while true {
                let fieldAt = at
                let name = try self.name()
                if fields.contains(where: { $0.name == name }) {
                    throw Failure(text: "field name repeated at offset \(fieldAt)")
                }
                try expect(":")
                let size = try type(depth: depth + 1)
                try expect("@")
                let offset = try number(allowZero: true)
                if let last = fields.last, offset < last.offset + last.size {
                    throw Failure(text: "field at offset \(fieldAt) starts at byte \(offset), before the previous field ends (fields must be in increasing offset order without overlap)")
                }
                fields.append((name, offset, size, fieldAt))
                guard fields.count <= ItemTypeParser.maxFields else { throw fail("more than \(ItemTypeParser.maxFields) fields") }
                if peek == UInt8(ascii: ",") { at += 1; continue }
                break
            }
            try expect("}")
            let size = try number()
            if let last = fields.last, last.offset + last.size > size {
                throw Failure(text: "field at offset \(last.at) ends at byte \(last.offset + last.size), past the struct's size \(size)")
            }
            return size
        }

        /// name = [A-Za-z_][A-Za-z0-9_]*, 1 to 64 bytes.
        mutating func name() throws(Failure) -> ArraySlice<UInt8> {
            let start = at
            func isLetter(_ c: UInt8) -> Bool {
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || c == UInt8(ascii: "_")
            }
            guard let first = peek, isLetter(first) else { throw fail("expected a field name") }
            while let c = peek, isLetter(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) { at += 1 }
            guard at - start <= ItemTypeParser.maxNameLength else {
                throw Failure(text: "field name longer than \(ItemTypeParser.maxNameLength) bytes at offset \(start)")
            }
            return bytes[start..<at]
        }
    }
}
