import Foundation

/// Evaluates scalar expressions in complex double precision at given variable values. Nil means the expression
/// is not a scalar or names a variable without a value; non-finite results are returned as such.
struct NumericEvaluator: Sendable {
    let variables: [String: Complex]

    func value(of node: MathNode) -> Complex? {
        switch node {
        case .number(let value):
            return Complex(value.doubleValue)
        case .variable(let name):
            return variables[name]
        case .constant(let constant):
            switch constant {
            case .pi: return Complex(Double.pi)
            case .e: return Complex(M_E)
            case .i: return .i
            case .infinity: return Complex(.infinity)
            }
        case .sum(let terms):
            var total = Complex.zero
            for term in terms {
                guard let part = value(of: term) else { return nil }
                total = total + part
            }
            return total
        case .product(let factors):
            var total = Complex.one
            for factor in factors {
                guard let part = value(of: factor) else { return nil }
                total = total * part
            }
            return total
        case .quotient(let top, let bottom):
            guard let numerator = value(of: top), let denominator = value(of: bottom) else { return nil }
            return numerator / denominator
        case .negation(let inner):
            return value(of: inner).map { -$0 }
        case .power(let base, let exponent):
            guard let baseValue = value(of: base), let exponentValue = value(of: exponent) else { return nil }
            return Complex.pow(baseValue, exponentValue)
        case .root(let index, let radicand):
            guard let indexValue = value(of: index), let radicandValue = value(of: radicand) else { return nil }
            if indexValue == Complex(2) { return Complex.sqrt(radicandValue) }
            return Complex.pow(radicandValue, Complex.one / indexValue)
        case .factorial(let inner):
            guard let argument = value(of: inner), argument.imaginary == 0, argument.real >= 0 else { return nil }
            return Complex(tgamma(argument.real + 1))
        case .binomial(let top, let bottom):
            guard let n = value(of: top), let k = value(of: bottom), n.imaginary == 0, k.imaginary == 0,
                  n.real >= 0, k.real >= 0, k.real <= n.real else { return nil }
            return Complex((lgamma(n.real + 1) - lgamma(k.real + 1) - lgamma(n.real - k.real + 1)).exponentiated.rounded())
        case .logarithm(let base, let argument):
            guard let argumentValue = value(of: argument) else { return nil }
            let natural = Complex.log(argumentValue)
            guard let base else { return natural }
            guard let baseValue = value(of: base) else { return nil }
            return natural / Complex.log(baseValue)
        case .function(let function, let argument):
            guard let argumentValue = value(of: argument) else { return nil }
            return apply(function, argumentValue)
        default:
            return nil
        }
    }

    private func apply(_ function: MathFunction, _ z: Complex) -> Complex? {
        switch function {
        case .sin: return Complex.sin(z)
        case .cos: return Complex.cos(z)
        case .tan: return Complex.sin(z) / Complex.cos(z)
        case .cot: return Complex.cos(z) / Complex.sin(z)
        case .sec: return Complex.one / Complex.cos(z)
        case .csc: return Complex.one / Complex.sin(z)
        case .exp: return Complex.exp(z)
        case .abs: return Complex(z.magnitude)
        case .sinh: return (Complex.exp(z) - Complex.exp(-z)) / Complex(2)
        case .cosh: return (Complex.exp(z) + Complex.exp(-z)) / Complex(2)
        case .tanh: return (Complex.exp(z) - Complex.exp(-z)) / (Complex.exp(z) + Complex.exp(-z))
        default:
            // The remaining functions are used on real arguments in answers; complex branches are not needed.
            guard z.imaginary == 0 else { return nil }
            let x = z.real
            switch function {
            case .arcsin: return abs(x) <= 1 ? Complex(asin(x)) : nil
            case .arccos: return abs(x) <= 1 ? Complex(acos(x)) : nil
            case .arctan: return Complex(atan(x))
            case .arccot: return Complex(x == 0 ? Double.pi / 2 : atan(1 / x))
            case .arcsec: return abs(x) >= 1 ? Complex(acos(1 / x)) : nil
            case .arccsc: return abs(x) >= 1 ? Complex(asin(1 / x)) : nil
            case .asinh: return Complex(asinh(x))
            case .acosh: return x >= 1 ? Complex(acosh(x)) : nil
            case .atanh: return abs(x) < 1 ? Complex(atanh(x)) : nil
            case .floor: return Complex(x.rounded(.down))
            case .ceil: return Complex(x.rounded(.up))
            default: return nil
            }
        }
    }
}

private extension Double {
    var exponentiated: Double { Foundation.exp(self) }
}
