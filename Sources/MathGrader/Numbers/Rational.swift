import BigInt
import Foundation

/// An exact fraction in lowest terms with a positive denominator.
///
/// Every operation that could grow without bound takes a bit budget and returns nil beyond it, so a hostile
/// answer such as `10^{10^{10}}` costs a comparison, not the machine's memory.
struct Rational: Hashable, Sendable {
    let numerator: BigInt
    let denominator: BigInt

    static let zero = Rational(integer: 0)
    static let one = Rational(integer: 1)

    init(integer: BigInt) {
        numerator = integer
        denominator = 1
    }

    init(integer: Int) {
        self.init(integer: BigInt(integer))
    }

    /// Nil when the denominator is zero.
    init?(numerator: BigInt, denominator: BigInt) {
        if denominator.isZero { return nil }
        let divisor = Rational.gcd(numerator.magnitude, denominator.magnitude)
        var reducedNumerator = divisor <= 1 ? numerator : numerator / BigInt(divisor)
        var reducedDenominator = divisor <= 1 ? denominator : denominator / BigInt(divisor)
        if reducedDenominator.sign == .minus {
            reducedNumerator.negate()
            reducedDenominator.negate()
        }
        self.numerator = reducedNumerator
        self.denominator = reducedDenominator
    }

    /// Parses decimal digits with an optional fractional part and decimal exponent ("12", "0.15", ".35625",
    /// "1.5e-3") exactly. Exponents beyond ±400 are refused: no answer needs them and they only cost memory.
    init?(decimalLiteral literal: Substring) {
        var text = literal
        var exponent = 0
        if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let parsed = Int(text[text.index(after: marker)...]), abs(parsed) <= 400 else { return nil }
            exponent = parsed
            text = text[..<marker]
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let wholeDigits = parts[0]
        let fractionDigits = parts.count > 1 ? parts[1] : ""
        guard !(wholeDigits.isEmpty && fractionDigits.isEmpty),
              (wholeDigits + fractionDigits).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        guard let value = BigInt(String(wholeDigits + fractionDigits), radix: 10) else { return nil }
        let scale = exponent - fractionDigits.count
        if scale >= 0 {
            self.init(numerator: value * BigInt(10).power(scale), denominator: 1)
        } else {
            self.init(numerator: value, denominator: BigInt(10).power(-scale))
        }
    }

    /// Euclid by remainders: a huge factorial against a small number reduces in one step, where BigInt's binary
    /// GCD shifts the huge one bit by bit.
    static func gcd(_ first: BigUInt, _ second: BigUInt) -> BigUInt {
        var (a, b) = first >= second ? (first, second) : (second, first)
        if b == 1 { return 1 }
        while !b.isZero {
            if a.bitWidth <= 64 {
                var (x, y) = (UInt64(a), UInt64(b))
                while y != 0 { (x, y) = (y, x % y) }
                return BigUInt(x)
            }
            (a, b) = (b, a % b)
        }
        return a
    }

    var isZero: Bool { numerator.isZero }
    var isInteger: Bool { denominator == 1 }
    var isNegative: Bool { numerator.sign == .minus && !numerator.isZero }

    /// Bits needed to write numerator and denominator: the size measure the budgets use.
    var bitSize: Int { numerator.magnitude.bitWidth + denominator.magnitude.bitWidth }

    var doubleValue: Double {
        // Both parts can overflow Double on their own while the quotient is ordinary: keep 60 significant bits
        // of each and carry the dropped bits as a power of two.
        let numeratorShift = max(0, numerator.magnitude.bitWidth - 60)
        let denominatorShift = max(0, denominator.magnitude.bitWidth - 60)
        let quotient = Double(numerator >> numeratorShift) / Double(denominator >> denominatorShift)
        return scalbn(quotient, numeratorShift - denominatorShift)
    }

    static func + (lhs: Rational, rhs: Rational) -> Rational {
        Rational(numerator: lhs.numerator * rhs.denominator + rhs.numerator * lhs.denominator,
                 denominator: lhs.denominator * rhs.denominator)!
    }

    static func - (lhs: Rational, rhs: Rational) -> Rational { lhs + (-rhs) }

    static prefix func - (value: Rational) -> Rational {
        Rational(numerator: -value.numerator, denominator: value.denominator)!
    }

    static func * (lhs: Rational, rhs: Rational) -> Rational {
        Rational(numerator: lhs.numerator * rhs.numerator, denominator: lhs.denominator * rhs.denominator)!
    }

    /// Nil on division by zero.
    func divided(by divisor: Rational) -> Rational? {
        Rational(numerator: numerator * divisor.denominator, denominator: denominator * divisor.numerator)
    }

    /// `self^exponent` for an integer exponent, or nil when the result would exceed `bitBudget` bits or is 0^-n.
    func power(_ exponent: BigInt, bitBudget: Int) -> Rational? {
        if exponent.isZero { return .one }
        if isZero { return exponent.sign == .minus ? nil : .zero }
        let magnitudeBits = max(numerator.magnitude.bitWidth, denominator.magnitude.bitWidth)
        if magnitudeBits <= 1 && numerator.magnitude == 1 && denominator == 1 {
            // ±1 to any power stays small whatever the exponent.
            let isOdd = exponent.magnitude % 2 == 1
            return isNegative && isOdd ? -Rational.one : .one
        }
        guard exponent.magnitude.bitWidth < 32 else { return nil }
        let count = Int(exponent.magnitude)
        guard magnitudeBits.multipliedReportingOverflow(by: count).partialValue <= bitBudget,
              !magnitudeBits.multipliedReportingOverflow(by: count).overflow else { return nil }
        let raised = Rational(numerator: numerator.power(count), denominator: denominator.power(count))!
        return exponent.sign == .minus ? Rational.one.divided(by: raised) : raised
    }

    /// The exact `index`-th root when numerator and denominator are both perfect powers, else nil.
    func exactRoot(_ index: Int) -> Rational? {
        guard index >= 1, index <= 64 else { return nil }
        if index == 1 { return self }
        if isNegative {
            guard index % 2 == 1, let root = (-self).exactRoot(index) else { return nil }
            return -root
        }
        guard let numeratorRoot = Rational.integerRoot(numerator.magnitude, index),
              let denominatorRoot = Rational.integerRoot(denominator.magnitude, index) else { return nil }
        return Rational(numerator: BigInt(numeratorRoot), denominator: BigInt(denominatorRoot))
    }

    private static func integerRoot(_ value: BigUInt, _ index: Int) -> BigUInt? {
        if value.isZero || value == 1 { return value }
        if index == 2 {
            let root = value.squareRoot()
            return root * root == value ? root : nil
        }
        // Binary search on the root: its bit width is about bitWidth / index.
        var low = BigUInt(1)
        var high = BigUInt(1) << (value.bitWidth / index + 1)
        while low <= high {
            let middle = (low + high) >> 1
            let raised = middle.power(index)
            if raised == value { return middle }
            if raised < value { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }
}

