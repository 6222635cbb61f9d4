import Foundation

/// xoshiro256** (Blackman, Vigna 2018): the one random-number generator of the engine and the trainer. Pure 64-bit
/// integer arithmetic, so a seed draws the same numbers on every machine; the whole state is four words, so a run
/// can be reproduced from a seed and resumed from a checkpointed state. The trainer seeds it with `init(seed:)`
/// (`SeededGenerator`), sampling with `init(seed:stream:)` (`RandomStream`, in Generation).
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Equatable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// Starts from an explicit state (reference test vectors). All-zero is the one state xoshiro cannot leave.
    public init(rawState: (UInt64, UInt64, UInt64, UInt64)) { words = rawState }

    /// The state as four words seeded by splitmix64 from `seed` (the seeder the xoshiro authors recommend).
    public init(seed: UInt64) {
        var seeder = SplitMix64(state: seed)
        words = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    /// Resumes from a saved `state`; nil unless it is four words, not all zero.
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        words = (state[0], state[1], state[2], state[3])
    }

    /// The four state words, for a checkpoint.
    public var state: [UInt64] { [words.0, words.1, words.2, words.3] }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(words.1 &* 5, by: 7) &* 9
        let shifted = words.1 << 17
        words.2 ^= words.0
        words.3 ^= words.1
        words.1 ^= words.2
        words.0 ^= words.3
        words.2 ^= shifted
        words.3 = rotateLeft(words.3, by: 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnitFloat() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextUnitFloat(), 1e-300), u2 = nextUnitFloat()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.words == rhs.words }

    private func rotateLeft(_ value: UInt64, by count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }
}

/// The trainer's generator: parameter initialisation, problem order, the rollout sampler's seeds.
public typealias SeededGenerator = Xoshiro256StarStar

/// splitmix64 (Steele, Lea, Flood 2014): the recommended seeder for the xoshiro family.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The splitmix64 output function alone: a 64-bit value scrambled so that neighbouring inputs are unrelated.
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
