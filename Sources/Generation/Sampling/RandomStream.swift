import Tensors

/// The sampler's generator: xoshiro256** (`Xoshiro256StarStar`, Tensors) whose state is derived with splitmix64 from
/// (seed, stream index). Each generated sequence gets its own stream (its sample index within its request), so which
/// other sequences share the batch never changes what a sequence samples.
public typealias RandomStream = Xoshiro256StarStar

extension Xoshiro256StarStar {
    public init(seed: UInt64, stream: UInt64) {
        var seeder = SplitMix64(state: seed)
        let seedWord = seeder.next()
        // Mixing the stream index through splitmix64 before combining keeps neighbouring streams unrelated.
        var streamSeeder = SplitMix64(state: seedWord ^ SplitMix64.mix(stream &+ 0x632B_E59B_D9B4_E019))
        var state = (streamSeeder.next(), streamSeeder.next(), streamSeeder.next(), streamSeeder.next())
        if state == (0, 0, 0, 0) { state.0 = 1 }  // the one state xoshiro cannot leave; unreachable in practice
        self.init(rawState: state)
    }
}
