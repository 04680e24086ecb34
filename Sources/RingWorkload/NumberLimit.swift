// NumberLimit.swift - the numbers an option accepts, and the one-line message
// that names the option and the value when it gets another (ringctl and
// ring-workload both check their numeric options with it).

/// What a numeric option accepts: a whole number in `range`, written in `radix`, a multiple of `step`.
public struct NumberLimit: Sendable {
    /// The accepted values.
    public let range: ClosedRange<UInt64>
    /// 10, or 8 for modes (a leading "0o" is allowed).
    public let radix: Int
    /// Values must be multiples of it.
    public let step: UInt64

    /// Accepts the multiples of `step` in `range`, written in `radix`.
    public init(_ range: ClosedRange<UInt64>, radix: Int = 10, step: UInt64 = 1) {
        self.range = range
        self.radix = radix
        self.step = step
    }

    /// Accepts the whole numbers in `range`.
    public init(_ range: ClosedRange<Int>) { self.init(UInt64(range.lowerBound)...UInt64(range.upperBound)) }

    /// `text` as a number if this limit accepts it; otherwise a message naming `name`,
    /// what is accepted (with `note` after the upper bound) and `text`.
    public func parse(_ name: String, _ text: String, note: String = "") -> Result<UInt64, NumberLimitError> {
        let digits = radix == 8 && text.hasPrefix("0o") ? String(text.dropFirst(2)) : text
        if let v = UInt64(digits, radix: radix), range.contains(v), v % step == 0 { return .success(v) }
        let kind = radix == 8 ? "an octal number" : "a whole number"
        let top = range.upperBound >= UInt64(Int.max) ? "" : " to \(String(range.upperBound, radix: radix))"
        let multiple = step == 1 ? "" : ", a multiple of \(step)"
        let from = top.isEmpty ? "of at least" : "from"
        return .failure(NumberLimitError(
            description: "\(name) wants \(kind) \(from) \(String(range.lowerBound, radix: radix))\(top)\(note)\(multiple), got \(text)"))
    }
}

/// An option's value outside its `NumberLimit`.
public struct NumberLimitError: Error, CustomStringConvertible, Sendable {
    /// One line naming the option, what it accepts and the value given.
    public let description: String
}
