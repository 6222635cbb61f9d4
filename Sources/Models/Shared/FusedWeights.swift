import Tensors

/// Fusing checkpoint matrices for inference (q/k/v, gate/up: one pass over the activations and one parallel
/// kernel call instead of three or two) and splitting them back into named tensors.
enum FusedWeights {
    /// [Σ rows, in] ← the [rows, in] tensors `names`, stacked in order.
    static func matrix(_ names: [String], of tensors: [String: NamedTensor], precision: WeightPrecision) -> WeightMatrix {
        matrix(names, tensor: { tensors[$0]! }, precision: precision)
    }

    /// The same from a provider of tensors by name (one at a time: a model built from generated tensors never holds
    /// all of them in f32).
    static func matrix(_ names: [String], tensor: (String) -> NamedTensor, precision: WeightPrecision) -> WeightMatrix {
        let parts = names.map(tensor)
        return WeightMatrix(rows: parts.reduce(0) { $0 + $1.shape[0] }, columns: parts[0].shape[1],
                            values: parts.flatMap(\.values), precision: precision)
    }

    /// Splits a fused row-major matrix (or bias, with columns 1) into consecutive blocks of `rows` rows.
    static func split(_ values: [Float], rows: [Int], columns: Int) -> [[Float]] {
        var start = 0
        return rows.map { count in
            defer { start += count * columns }
            return Array(values[start..<(start + count * columns)])
        }
    }
}
