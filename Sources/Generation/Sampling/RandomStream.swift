/// A seeded xoshiro256** generator whose state is derived with splitmix64 from (seed, stream index).
///
/// Pure 64-bit integer arithmetic, so a (seed, stream) pair draws the same numbers on every machine. Each
/// generated sequence gets its own stream (its sample index within its request), so which other sequences share
/// the batch never changes what a sequence samples.
public struct RandomStream: RandomNumberGenerator, Sendable, Equatable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64, stream: UInt64) {
        var seeder = SplitMix64(state: seed)
        let seedWord = seeder.next()
        // Mixing the stream index through splitmix64 before combining keeps neighbouring streams unrelated.
        var streamSeeder = SplitMix64(state: seedWord ^ SplitMix64.mix(stream &+ 0x632B_E59B_D9B4_E019))
        state = (streamSeeder.next(), streamSeeder.next(), streamSeeder.next(), streamSeeder.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }  // the one state xoshiro cannot leave; unreachable in practice
    }

    /// Starts from an explicit xoshiro256** state (reference test vectors).
    public init(rawState: (UInt64, UInt64, UInt64, UInt64)) { state = rawState }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, by: 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, by: 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    public static func == (lhs: RandomStream, rhs: RandomStream) -> Bool { lhs.state == rhs.state }

    private func rotateLeft(_ value: UInt64, by count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): the recommended seeder for the xoshiro family.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
