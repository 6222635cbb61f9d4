/// Hyper-parameters of a Llama-family decoder, read from GGUF metadata or a Hugging Face `config.json`.
public struct ModelConfiguration: Sendable, Codable, Equatable {
    public enum Architecture: String, Sendable, Codable { case llama, qwen2 }

    /// Which pairs of a head's dimensions RoPE rotates together. Hugging Face checkpoints (and Qwen2 GGUFs,
    /// NeoX style) rotate (i, i + d/2); llama.cpp's conversion permutes Llama's q/k weights so that adjacent
    /// pairs (2i, 2i + 1) rotate.
    public enum RopePairing: String, Sendable, Codable { case halves, adjacent }

    public var architecture: Architecture
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var contextLength: Int
    public var ropeTheta: Double
    public var ropePairing: RopePairing
    public var rmsNormEpsilon: Double
    /// The output head reuses the token embedding matrix.
    public var tiedEmbeddings: Bool
    /// q, k and v projections carry biases (Qwen2).
    public var attentionBias: Bool

    public init(architecture: Architecture, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, headCount: Int, keyValueHeadCount: Int, headDimension: Int, contextLength: Int,
                ropeTheta: Double, ropePairing: RopePairing, rmsNormEpsilon: Double, tiedEmbeddings: Bool,
                attentionBias: Bool) {
        self.architecture = architecture
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount
        self.headDimension = headDimension
        self.contextLength = contextLength
        self.ropeTheta = ropeTheta
        self.ropePairing = ropePairing
        self.rmsNormEpsilon = rmsNormEpsilon
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
    }
}
