import CKernels

/// How inference weights are stored. f32 is exact (the oracle tests use it); bf16 halves the bytes every decode
/// step streams, at bf16 rounding of the weights (activations and accumulation stay f32).
public enum WeightPrecision: String, CaseIterable, Sendable, Codable {
    case f32, bf16
}

/// A linear layer's weight W: [rows = out, columns = in], row-major, in one of the `WeightPrecision` formats.
/// Immutable after construction; owns its memory.
public final class WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let precision: WeightPrecision
    let storage: UnsafeMutableRawPointer

    /// values: [rows, columns] f32
    public init(rows: Int, columns: Int, values: [Float], precision: WeightPrecision) {
        precondition(values.count == rows * columns, "WeightMatrix: \(values.count) values for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.precision = precision
        let count = rows * columns
        switch precision {
        case .f32:
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: count) }
            storage = UnsafeMutableRawPointer(buffer)
        case .bf16:
            let buffer = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
            values.withUnsafeBufferPointer { BFloat16.narrow($0.baseAddress!, buffer, count: count) }
            storage = UnsafeMutableRawPointer(buffer)
        }
    }

    deinit { storage.deallocate() }

    public var byteCount: Int { rows * columns * (precision == .f32 ? 4 : 2) }

    var float32: UnsafePointer<Float> { UnsafePointer(storage.assumingMemoryBound(to: Float.self)) }
    var bfloat16: UnsafePointer<UInt16> { UnsafePointer(storage.assumingMemoryBound(to: UInt16.self)) }

    /// dst: [rowRange.count, columns] f32 ← rows `rowRange` of W.
    public func copyRows(_ rowRange: Range<Int>, to dst: UnsafeMutablePointer<Float>) {
        let offset = rowRange.lowerBound * columns
        let count = rowRange.count * columns
        switch precision {
        case .f32: dst.update(from: float32 + offset, count: count)
        case .bf16: BFloat16.widen(bfloat16 + offset, dst, count: count)
        }
    }

    /// W as f32 values: [rows, columns].
    public func toFloat32() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * columns) { buffer, initialized in
            if rows * columns > 0 { copyRows(0..<rows, to: buffer.baseAddress!) }
            initialized = rows * columns
        }
    }
}
