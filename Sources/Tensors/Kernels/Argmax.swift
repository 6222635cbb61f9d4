import CKernels

/// Greedy choice over logits.
public enum Argmax {
    /// The index of the largest value (the first on ties; NaN never wins), nil when every value is NaN or there
    /// are none. values: [n]
    public static func index(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        let index = torl_argmax(base, values.count)
        return index < 0 ? nil : index
    }
}
