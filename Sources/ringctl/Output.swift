// Output.swift - how ringctl prints: messages as text, hex or JSON lines,
// JSON values, and lines flushed as they are written (so `tail -f | ...` sees
// each message at once).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Output {
    /// Writes `text` and a newline to standard output at once (unbuffered, so a
    /// reader of `tail -f` sees each message as it comes).
    static func line(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(1, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                done += n
            }
        }
    }

    /// Writes `text` and a newline to standard error (fd 2).
    static func error(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// A message in `format`, with its position in the ring when there is one.
    static func message(_ bytes: [UInt8], position: UInt64?, format: MessageFormat) -> String {
        switch format {
        case .text:
            return String(decoding: bytes, as: UTF8.self)
        case .hex:
            return hex(bytes)
        case .json:
            var fields: [(String, JSON)] = []
            if let p = position { fields.append(("position", .number(p))) }
            fields.append(("length", .number(UInt64(bytes.count))))
            if let text = String(validating: bytes, as: UTF8.self) {
                fields.append(("text", .string(text)))
            } else {
                fields.append(("hex", .string(hex(bytes))))
            }
            return JSON.object(fields).text
        }
    }

    /// The bytes as lowercase hexadecimal, two digits each.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A JSON value, written compactly on one line.
indirect enum JSON {
    case number(UInt64)
    case signed(Int64)
    case double(Double)
    case string(String)
    case bool(Bool)
    case null
    case object([(String, JSON)])
    case array([JSON])

    /// The value as JSON text.
    var text: String {
        switch self {
        case .number(let n): return String(n)
        case .signed(let n): return String(n)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .string(let s): return JSON.quoted(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .object(let fields):
            return "{" + fields.map { JSON.quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(\.text).joined(separator: ",") + "]"
        }
    }

    /// `s` as a JSON string literal (RFC 8259 escapes).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
