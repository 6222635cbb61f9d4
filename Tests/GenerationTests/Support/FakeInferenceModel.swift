import Models

/// A deterministic stand-in for the engine that keeps the `InferenceModel` contract: the logits at a position are
/// a pseudo-random function of the sequence's whole token history, so a wrong cache (lost, duplicated or
/// misordered tokens) changes every later logit. It records the forward calls it receives.
final class FakeInferenceModel: InferenceModel {
    enum FakeError: Error { case unknownSequence(SequenceID), contextOverflow(SequenceID), cacheFull }

    let configuration: ModelConfiguration
    /// Added to the logit of a token for every history that `favour` returns it for: steers generations.
    var favour: (([Int32]) -> Int32?)?
    var favourStrength: Float = 20
    /// Sequences allowed at once (forkSequence/makeSequence throw beyond it).
    var sequenceCapacity = Int.max
    private(set) var histories: [SequenceID: [Int32]] = [:]
    private(set) var forwardCalls: [[ForwardStep]] = []
    private(set) var forkCount = 0
    private var nextSequence = 0

    init(vocabularySize: Int, contextLength: Int = 512) {
        configuration = ModelConfiguration(
            architecture: .llama, vocabularySize: vocabularySize, hiddenSize: 8, intermediateSize: 16, layerCount: 1,
            headCount: 1, keyValueHeadCount: 1, headDimension: 8, contextLength: contextLength, ropeTheta: 10000,
            ropePairing: .halves, rmsNormEpsilon: 1e-5, tiedEmbeddings: true, attentionBias: false)
    }

    var liveSequenceCount: Int { histories.count }

    func makeSequence() throws -> SequenceID {
        guard histories.count < sequenceCapacity else { throw FakeError.cacheFull }
        let id = SequenceID(nextSequence)
        nextSequence += 1
        histories[id] = []
        return id
    }

    func forkSequence(_ source: SequenceID) throws -> SequenceID {
        guard let history = histories[source] else { throw FakeError.unknownSequence(source) }
        let id = try makeSequence()
        histories[id] = history
        forkCount += 1
        return id
    }

    func releaseSequence(_ sequence: SequenceID) { histories[sequence] = nil }

    func length(of sequence: SequenceID) -> Int { histories[sequence]?.count ?? 0 }

    func forward(_ steps: [ForwardStep]) throws -> LogitsBatch {
        for step in steps {
            guard let history = histories[step.sequence] else { throw FakeError.unknownSequence(step.sequence) }
            guard history.count + step.tokens.count <= configuration.contextLength else {
                throw FakeError.contextOverflow(step.sequence)
            }
        }
        forwardCalls.append(steps)
        var values: [Float] = []
        var rowRanges: [Range<Int>] = []
        var rowCount = 0
        for step in steps {
            var history = histories[step.sequence]!
            let firstRow = rowCount
            for (position, token) in step.tokens.enumerated() {
                history.append(token)
                if step.logitsForAllTokens || position == step.tokens.count - 1 {
                    values.append(contentsOf: logits(after: history))
                    rowCount += 1
                }
            }
            histories[step.sequence] = history
            rowRanges.append(firstRow..<rowCount)
        }
        return LogitsBatch(values: values, vocabularySize: configuration.vocabularySize, rowRanges: rowRanges)
    }

    /// The logits after `history`, as the model defines them ([vocabularySize]).
    func logits(after history: [Int32]) -> [Float] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for token in history { hash = (hash ^ UInt64(UInt32(bitPattern: token))) &* 0x0000_0100_0000_01B3 }
        var generator = SplitMix64Like(state: hash)
        var row = (0..<configuration.vocabularySize).map { _ in Float(generator.nextUnit() * 8 - 4) }
        if let favoured = favour?(history) { row[Int(favoured)] += favourStrength }
        return row
    }
}

/// Independent of the module's generator on purpose: the fake must not share code with what it tests.
private struct SplitMix64Like {
    var state: UInt64
    mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}
