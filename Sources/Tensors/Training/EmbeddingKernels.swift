/// Token embedding lookup. Token ids must already be validated against the vocabulary size by the caller.
public enum EmbeddingKernels {
    // tokens: [rows], table: [vocabulary, channels] → out: [rows, channels]
    public static func forward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
                               table: UnsafePointer<Float>, rows: Int, channels: Int) {
        for row in 0..<rows {
            (out + row * channels).update(from: table + Int(tokens[row]) * channels, count: channels)
        }
    }

    // dOut: [rows, channels] → dTable: [vocabulary, channels] += scatter of dOut by token
    public static func backward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>,
                                tokens: UnsafePointer<Int32>, rows: Int, channels: Int) {
        for row in 0..<rows {
            let target = dTable + Int(tokens[row]) * channels
            let source = dOut + row * channels
            for c in 0..<channels { target[c] += source[c] }
        }
    }
}
