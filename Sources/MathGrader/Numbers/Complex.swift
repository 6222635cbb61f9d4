import Foundation

/// Double-precision complex numbers for numeric evaluation; principal branches throughout.
struct Complex: Sendable, Equatable {
    var real: Double
    var imaginary: Double

    init(_ real: Double, _ imaginary: Double = 0) {
        self.real = real
        self.imaginary = imaginary
    }

    static let zero = Complex(0)
    static let one = Complex(1)
    static let i = Complex(0, 1)

    var magnitude: Double { hypot(real, imaginary) }
    var argument: Double { atan2(imaginary, real) }
    var isFinite: Bool { real.isFinite && imaginary.isFinite }

    static func + (a: Complex, b: Complex) -> Complex { Complex(a.real + b.real, a.imaginary + b.imaginary) }
    static func - (a: Complex, b: Complex) -> Complex { Complex(a.real - b.real, a.imaginary - b.imaginary) }
    static prefix func - (a: Complex) -> Complex { Complex(-a.real, -a.imaginary) }

    static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.real * b.real - a.imaginary * b.imaginary, a.real * b.imaginary + a.imaginary * b.real)
    }

    static func / (a: Complex, b: Complex) -> Complex {
        let scale = b.real * b.real + b.imaginary * b.imaginary
        return Complex((a.real * b.real + a.imaginary * b.imaginary) / scale,
                       (a.imaginary * b.real - a.real * b.imaginary) / scale)
    }

    static func exp(_ z: Complex) -> Complex {
        let modulus = Foundation.exp(z.real)
        if z.imaginary == 0 { return Complex(modulus) }
        return Complex(modulus * cos(z.imaginary), modulus * sin(z.imaginary))
    }

    static func log(_ z: Complex) -> Complex {
        if z.imaginary == 0 && z.real > 0 { return Complex(Foundation.log(z.real)) }
        return Complex(Foundation.log(z.magnitude), z.argument)
    }

    static func sqrt(_ z: Complex) -> Complex {
        if z.imaginary == 0 {
            return z.real >= 0 ? Complex(Foundation.sqrt(z.real)) : Complex(0, Foundation.sqrt(-z.real))
        }
        let modulus = Foundation.sqrt(z.magnitude)
        let half = z.argument / 2
        return Complex(modulus * cos(half), modulus * sin(half))
    }

    /// Real bases with real exponents stay real where the real power exists, so `(-8)^{1/3}` is `-2` as a
    /// contest reader means it, not the principal complex root.
    static func pow(_ base: Complex, _ exponent: Complex) -> Complex {
        if base.imaginary == 0 && exponent.imaginary == 0 {
            let b = base.real, e = exponent.real
            if b >= 0 || e == e.rounded() { return Complex(Foundation.pow(b, e)) }
            if let sign = signOfNegativeOnePower(e) { return Complex(sign * Foundation.pow(-b, e)) }
        }
        if base == .zero { return exponent.real > 0 ? .zero : Complex(.infinity) }
        return exp(exponent * log(base))
    }

    /// For e = p/q with q odd (found by a small search) the real value of (-1)^e: -1 when p is odd, else +1.
    private static func signOfNegativeOnePower(_ e: Double) -> Double? {
        for q in stride(from: 3, through: 15, by: 2) {
            let p = e * Double(q)
            if abs(p - p.rounded()) < 1e-9 {
                return Int(p.rounded()) % 2 != 0 ? -1 : 1
            }
        }
        return nil
    }

    static func sin(_ z: Complex) -> Complex {
        if z.imaginary == 0 { return Complex(Foundation.sin(z.real)) }
        return Complex(Foundation.sin(z.real) * cosh(z.imaginary), Foundation.cos(z.real) * sinh(z.imaginary))
    }

    static func cos(_ z: Complex) -> Complex {
        if z.imaginary == 0 { return Complex(Foundation.cos(z.real)) }
        return Complex(Foundation.cos(z.real) * cosh(z.imaginary), -Foundation.sin(z.real) * sinh(z.imaginary))
    }

    private static func cos(_ x: Double) -> Double { Foundation.cos(x) }
    private static func sin(_ x: Double) -> Double { Foundation.sin(x) }
}
