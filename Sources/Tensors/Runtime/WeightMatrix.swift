import CKernels

/// How inference weights are stored. f32 is exact (the oracle tests use it); bf16 halves the bytes every decode
/// step streams, at bf16 rounding of the weights and of the activations entering each linear layer; int8 cuts them
/// to 1.25 per weight (8-bit codes with a step and a minimum per 32 weights of a row), with the activations entering
/// each linear layer quantized to 8 bits per token and block of 32.
public enum WeightPrecision: String, CaseIterable, Sendable, Codable {
    case f32, bf16, int8
}

/// A linear layer's weight W: [rows = out, columns = in], in one of the `WeightPrecision` formats: f32 packed in
/// panels of 16 rows for the FMA kernel (`torl_pack_f32`), bf16 packed in panels of 16 rows for the AVX512_BF16 kernel (`torl_pack_bf16`), or int8 packed in panels of 16
/// rows for the AVX512_VNNI kernel (`torl_pack_q8`) with a step and a minimum per row and block of 32.
/// Immutable after construction; owns its memory.
public final class WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let precision: WeightPrecision
    let storage: UnsafeMutableRawPointer
    /// int8 only: each block's step and minimum, [ceil(rows / 16)][Kpad / 32][16] each (`torl_pack_q8`).
    let blockSteps: UnsafeMutablePointer<Float>?
    let blockMinimums: UnsafeMutablePointer<Float>?

    /// values: [rows, columns] f32
    public init(rows: Int, columns: Int, values: [Float], precision: WeightPrecision) {
        precondition(values.count == rows * columns, "WeightMatrix: \(values.count) values for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.precision = precision
        let count = rows * columns
        switch precision {
        case .f32:
            let packed = StreamedMemory.allocate(byteCount: torl_f32_packed_count(rows, columns) * 4)
                .bindMemory(to: Float.self, capacity: torl_f32_packed_count(rows, columns))
            values.withUnsafeBufferPointer { source in
                ComputePool.parallelFor((rows + 15) / 16, grain: 16) { panels in
                    let first = panels.lowerBound * 16, count = min(panels.upperBound * 16, rows) - first
                    torl_pack_f32(source.baseAddress! + first * columns, count, columns, packed + first * columns)
                }
            }
            storage = UnsafeMutableRawPointer(packed)
            blockSteps = nil
            blockMinimums = nil
        case .bf16:
            let rowMajor = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
            defer { rowMajor.deallocate() }
            values.withUnsafeBufferPointer { BFloat16.narrow($0.baseAddress!, rowMajor, count: count) }
            let packedCount = torl_bf16_packed_count(rows, columns)
            let packed = StreamedMemory.allocate(byteCount: packedCount * 2).bindMemory(to: UInt16.self, capacity: packedCount)
            torl_pack_bf16(rowMajor, rows, columns, packed)
            storage = UnsafeMutableRawPointer(packed)
            blockSteps = nil
            blockMinimums = nil
        case .int8:
            let packed = StreamedMemory.allocate(byteCount: torl_q8_packed_bytes(rows, columns))
            let blocks = max(torl_q8_block_count(rows, columns), 1)
            let steps = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
            let minimums = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
            // Choosing each block's grid takes two encodings per weight: split across the pool (model loads and
            // the trainer's weight pushes repack every matrix).
            values.withUnsafeBufferPointer { source in
                let codes = packed.assumingMemoryBound(to: UInt8.self)
                ComputePool.parallelFor((rows + 15) / 16, grain: 8) { panels in
                    torl_pack_q8(source.baseAddress!, rows, columns, panels.lowerBound, panels.upperBound, codes, steps, minimums)
                }
            }
            storage = packed
            blockSteps = steps
            blockMinimums = minimums
        }
    }

    deinit {
        StreamedMemory.deallocate(storage)
        blockSteps?.deallocate()
        blockMinimums?.deallocate()
    }

    /// Bytes a pass over the whole matrix reads (panel padding included).
    public var byteCount: Int {
        switch precision {
        case .f32: return torl_f32_packed_count(rows, columns) * 4
        case .bf16: return torl_bf16_packed_count(rows, columns) * 2
        case .int8: return torl_q8_packed_bytes(rows, columns) + 8 * torl_q8_block_count(rows, columns)
        }
    }

    /// f32 panels: [ceil(rows / 16)][columns][16]
    var packedFloat32: UnsafePointer<Float> { UnsafePointer(storage.assumingMemoryBound(to: Float.self)) }
    /// bf16 panels: [ceil(rows / 16)][ceil(columns / 2)][16][2]
    var packedBFloat16: UnsafePointer<UInt16> { UnsafePointer(storage.assumingMemoryBound(to: UInt16.self)) }
    /// int8 panels: [ceil(rows / 16)][Kpad / 4][16][4] codes
    var packedInt8: UnsafePointer<UInt8> { UnsafePointer(storage.assumingMemoryBound(to: UInt8.self)) }
    /// Panels of 16 rows (every layout).
    var panelCount: Int { (rows + 15) / 16 }

    /// dst: [rowRange.count, columns] f32 ← rows `rowRange` of W.
    public func copyRows(_ rowRange: Range<Int>, to dst: UnsafeMutablePointer<Float>) {
        switch precision {
        case .f32:
            for (i, n) in rowRange.enumerated() {
                let panel = packedFloat32 + (n / 16) * columns * 16 + n % 16
                for k in 0..<columns { dst[i * columns + k] = panel[k * 16] }
            }
        case .bf16:
            let pairs = (columns + 1) / 2
            for (i, n) in rowRange.enumerated() {
                let panel = n / 16, lane = n % 16
                for k in 0..<columns {
                    let bits = packedBFloat16[((panel * pairs + k / 2) * 16 + lane) * 2 + k % 2]
                    dst[i * columns + k] = BFloat16.float(fromBits: bits)
                }
            }
        case .int8:
            for (i, n) in rowRange.enumerated() {
                torl_unpack_q8_row(packedInt8, blockSteps, blockMinimums, columns, n, dst + i * columns)
            }
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
