/// Several token sequences laid end to end for one forward pass: matrix products run over all tokens at once,
/// attention and positions stay within each sequence.
public struct PackedSequences: Sendable {
    public private(set) var tokens: [Int32] = []
    /// Position of each token inside its own sequence (RoPE angle).
    public private(set) var positions: [Int32] = []
    public private(set) var segments: [Range<Int>] = []

    public init() {}

    public init(_ sequences: [[Int32]]) {
        for sequence in sequences { append(sequence) }
    }

    public mutating func append(_ sequence: [Int32]) {
        let start = tokens.count
        tokens.append(contentsOf: sequence)
        positions.append(contentsOf: (0..<sequence.count).map { Int32($0) })
        segments.append(start..<tokens.count)
    }

    public var count: Int { tokens.count }
}
