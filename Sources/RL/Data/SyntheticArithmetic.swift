/// Synthetic arithmetic problems with exact integer answers, sized so that a small model can only get them
/// right by computing (e.g. writing code): multi-digit products, sums of sequences, modular powers.
/// The same seed gives the same problems; answers are computed exactly, never estimated.
public struct SyntheticArithmetic: Sendable {
    public enum Family: String, CaseIterable, Codable, Sendable {
        case product, sequenceSum = "sequence_sum", modularPower = "modular_power"
    }

    /// 1 (easiest) ... 5: more digits, longer sequences, larger exponents.
    public var difficulty: Int
    public var families: [Family]

    public init(difficulty: Int = 3, families: [Family] = Family.allCases) {
        self.difficulty = min(max(difficulty, 1), 5)
        self.families = families.isEmpty ? Family.allCases : families
    }

    /// `count` problems with ids `"\(idPrefix)-\(index)"`.
    public func problems<R: RandomNumberGenerator>(count: Int, idPrefix: String = "synthetic", using rng: inout R) -> [Problem] {
        (0..<max(count, 0)).map { index in
            let family = families[Int.random(in: 0..<families.count, using: &rng)]
            let (text, answer) = make(family, using: &rng)
            return Problem(id: "\(idPrefix)-\(index)", problem: text, answer: String(answer))
        }
    }

    func make<R: RandomNumberGenerator>(_ family: Family, using rng: inout R) -> (String, Int) {
        switch family {
        case .product:
            // d-digit by (d+1)-digit: d = 2...6, so answers stay below 10^13.
            let digits = difficulty + 1
            let a = Int.random(in: Self.power10(digits - 1)..<Self.power10(digits), using: &rng)
            let b = Int.random(in: Self.power10(digits)..<Self.power10(digits + 1), using: &rng)
            return ("Compute $\(a) \\times \(b)$.", a * b)
        case .sequenceSum:
            let n = Int.random(in: (20 * difficulty)...(200 * difficulty), using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let first = Int.random(in: 1...999, using: &rng), step = Int.random(in: 2...97, using: &rng)
                let sum = n * first + step * n * (n - 1) / 2
                return ("What is the sum of the first \(n) terms of the arithmetic sequence \(first), \(first + step), \(first + 2 * step), \\ldots?", sum)
            case 1:
                return ("Compute $\\sum_{k=1}^{\(n)} k^2$.", n * (n + 1) * (2 * n + 1) / 6)
            default:
                let triangle = n * (n + 1) / 2
                return ("Compute $1^3 + 2^3 + 3^3 + \\cdots + \(n)^3$.", triangle * triangle)
            }
        case .modularPower:
            let base = Int.random(in: 3...(50 * difficulty), using: &rng)
            let exponent = Int.random(in: (100 * difficulty)...(2000 * difficulty), using: &rng)
            let modulus = Int.random(in: (50 * difficulty)...(1000 * difficulty), using: &rng)
            return ("What is the remainder when $\(base)^{\(exponent)}$ is divided by \(modulus)?",
                    Self.modularPower(base, exponent, modulus))
        }
    }

    static func power10(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }

    /// base^exponent mod modulus by square-and-multiply; operands stay below modulus^2 < 2^63.
    static func modularPower(_ base: Int, _ exponent: Int, _ modulus: Int) -> Int {
        var result = 1 % modulus, square = base % modulus, e = exponent
        while e > 0 {
            if e & 1 == 1 { result = result * square % modulus }
            square = square * square % modulus
            e >>= 1
        }
        return result
    }
}
