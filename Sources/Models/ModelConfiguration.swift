/// Hyper-parameters of a decoder (Llama family or Gemma 3), read from GGUF metadata or a Hugging Face `config.json`.
public struct ModelConfiguration: Sendable, Codable, Equatable {
    /// Llama and Qwen2 run on `LlamaModel`, Gemma 3 on `Gemma3Model`.
    public enum Architecture: String, Sendable, Codable { case llama, qwen2, gemma3 }

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
    /// Gemma 3 only: keys a sliding-window layer attends to (its own position included).
    public var slidingWindow: Int?
    /// Gemma 3 only: every `slidingWindowPattern`-th layer (l % pattern == pattern − 1) is global, the others
    /// attend within the window.
    public var slidingWindowPattern: Int?
    /// Gemma 3 only: the RoPE base of sliding-window layers (global layers use `ropeTheta`).
    public var localRopeTheta: Double?
    /// Gemma 3 only: attention scores are q·k / sqrt(queryPreAttentionScalar) (Hugging Face's
    /// `query_pre_attn_scalar`); nil means the head dimension.
    public var queryPreAttentionScalar: Double?

    public init(architecture: Architecture, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, headCount: Int, keyValueHeadCount: Int, headDimension: Int, contextLength: Int,
                ropeTheta: Double, ropePairing: RopePairing, rmsNormEpsilon: Double, tiedEmbeddings: Bool,
                attentionBias: Bool, slidingWindow: Int? = nil, slidingWindowPattern: Int? = nil,
                localRopeTheta: Double? = nil, queryPreAttentionScalar: Double? = nil) {
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
        self.slidingWindow = slidingWindow
        self.slidingWindowPattern = slidingWindowPattern
        self.localRopeTheta = localRopeTheta
        self.queryPreAttentionScalar = queryPreAttentionScalar
    }

    /// Whether layer `layer` attends within `slidingWindow` (Gemma 3: five of every six layers).
    public func isSlidingWindowLayer(_ layer: Int) -> Bool {
        guard slidingWindow != nil, let pattern = slidingWindowPattern, pattern > 0 else { return false }
        return layer % pattern < pattern - 1
    }
}
