import Tensors

/// ggml tensor data to f32. Block layouts (ggml-common.h): every block starts with its f16 scale(s) except
/// Q2_K, Q3_K and Q6_K, which end with them; all multi-byte fields are little-endian. Each formula keeps ggml's
/// order of f32 operations (ggml-quants.c, `dequantize_row_*`), so the results are bit for bit ggml's.
public enum Dequantize {
    /// The element types `toFloat32` accepts.
    public static let supportedTypes: Set<GGMLType> = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
    ]

    /// dst: [count] ← `count` elements of `type` in `bytes` (which must hold exactly count/blockElements blocks).
    public static func toFloat32(_ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int,
                                 into dst: UnsafeMutablePointer<Float>) throws {
        guard supportedTypes.contains(type), let layout = type.blockLayout else {
            throw DequantizeError.unsupportedType(type.name)
        }
        guard count % layout.elements == 0, bytes.count == count / layout.elements * layout.bytes else {
            throw DequantizeError.sizeMismatch(type: type.name, elements: count, bytes: bytes.count)
        }
        guard count > 0, let base = bytes.baseAddress else { return }
        let blocks = count / layout.elements
        for block in 0..<blocks {
            let src = base + block * layout.bytes
            let out = dst + block * layout.elements
            switch type {
            case .f32: out.pointee = src.loadUnaligned(as: Float.self)
            case .f16: out.pointee = half(src, 0)
            case .bf16: out.pointee = BFloat16.float(fromBits: UInt16(littleEndian: src.loadUnaligned(as: UInt16.self)))
            case .q8_0: q8_0(src, out)
            case .q4_0: q4(src, out, scale: half(src, 0), minimum: nil)
            case .q4_1: q4(src, out, scale: half(src, 0), minimum: half(src, 2))
            case .q5_0: q5(src, out, scale: half(src, 0), minimum: nil)
            case .q5_1: q5(src, out, scale: half(src, 0), minimum: half(src, 2))
            case .q2_K: q2_K(src, out)
            case .q3_K: q3_K(src, out)
            case .q4_K: q4_K(src, out)
            case .q5_K: q5_K(src, out)
            case .q6_K: q6_K(src, out)
            default: throw DequantizeError.unsupportedType(type.name)
            }
        }
    }

    public static func toFloat32(_ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int) throws -> [Float] {
        var result = [Float](repeating: 0, count: count)
        try result.withUnsafeMutableBufferPointer { try toFloat32(bytes, type: type, count: count, into: $0.baseAddress!) }
        return result
    }

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Half.float(fromBits: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// block_q8_0 { f16 d; int8 qs[32] }: x = d · q
    static func q8_0(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(src, 0)
        let qs = (src + 2).assumingMemoryBound(to: Int8.self)
        for i in 0..<32 { out[i] = d * Float(qs[i]) }
    }

    /// block_q4_0 { f16 d; u8 qs[16] }: x = d · (q − 8); block_q4_1 { f16 d; f16 m; u8 qs[16] }: x = d · q + m.
    /// Byte j holds element j in its low nibble and element j + 16 in its high nibble.
    static func q4(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, scale d: Float, minimum m: Float?) {
        let qs = (src + (m == nil ? 2 : 4)).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let low = Float(qs[j] & 0x0F), high = Float(qs[j] >> 4)
            if let m {
                out[j] = d * low + m
                out[j + 16] = d * high + m
            } else {
                out[j] = d * (low - 8)
                out[j + 16] = d * (high - 8)
            }
        }
    }

    /// block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }: x = d · (q − 16); block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] }:
    /// x = d · q + m. The nibbles are laid out as in q4; bit j of the little-endian u32 qh is the fifth bit of
    /// element j, bit j + 16 that of element j + 16.
    static func q5(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, scale d: Float, minimum m: Float?) {
        let qhOffset = m == nil ? 2 : 4
        let qh = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self))
        let qs = (src + qhOffset + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let low = Int32(qs[j] & 0x0F) | Int32((qh >> UInt32(j)) << 4 & 0x10)
            let high = Int32(qs[j] >> 4) | Int32((qh >> UInt32(j + 12)) & 0x10)
            if let m {
                out[j] = Float(low) * d + m
                out[j + 16] = Float(high) * d + m
            } else {
                out[j] = Float(low - 16) * d
                out[j + 16] = Float(high - 16) * d
            }
        }
    }

    /// block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }: 16 sub-blocks of 16, x = d·(sc & 15)·q − dmin·(sc >> 4)
    /// with 2-bit q. Each half (128 elements) reads 32 bytes of qs four times, two bits further each time; the
    /// first 16 bytes feed one sub-block, the next 16 the following one.
    static func q2_K(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let scales = src.assumingMemoryBound(to: UInt8.self)
        let d = half(src, 80), dmin = half(src, 82)
        var y = out, subBlock = 0
        for halfIndex in 0..<2 {
            let q = (src + 16 + 32 * halfIndex).assumingMemoryBound(to: UInt8.self)
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0..<2 {
                    let sc = scales[subBlock]
                    subBlock += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 { y[l] = dl * Float((q[l + 16 * part] >> UInt8(shift)) & 3) - ml }
                    y += 16
                }
            }
        }
    }

    /// The 16 signed 6-bit scales of block_q3_K, packed in 12 bytes: scale i takes its low 4 bits from byte i % 8
    /// (low nibble for i < 8, high nibble after) and its top 2 bits from byte 8 + i % 4, bits 2·(i / 4); stored
    /// with an offset of 32.
    static func q3_KScales(_ packed: UnsafePointer<UInt8>) -> [Int32] {
        (0..<16).map { i in
            let low = i < 8 ? packed[i] & 0x0F : packed[i - 8] >> 4
            let high = (packed[8 + i % 4] >> UInt8(2 * (i / 4))) & 3
            return Int32(low | high << 4) - 32
        }
    }

    /// block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: 16 sub-blocks of 16, x = d·sc·(q − 4·!h) with
    /// 2-bit q read as in q2_K and h the bit of hmask[l] for pass m (0..<8) over the 32 hmask bytes.
    static func q3_K(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let hmask = src.assumingMemoryBound(to: UInt8.self)
        let scales = q3_KScales((src + 96).assumingMemoryBound(to: UInt8.self))
        let d = half(src, 108)
        var y = out, subBlock = 0, maskBit: UInt8 = 1
        for halfIndex in 0..<2 {
            let q = (src + 32 + 32 * halfIndex).assumingMemoryBound(to: UInt8.self)
            for shift in stride(from: 0, to: 8, by: 2) {
                for part in 0..<2 {
                    let dl = d * Float(scales[subBlock])
                    subBlock += 1
                    for l in 0..<16 {
                        let i = l + 16 * part
                        let low = Int32((q[i] >> UInt8(shift)) & 3)
                        y[l] = dl * Float(low - (hmask[i] & maskBit != 0 ? 0 : 4))
                    }
                    y += 16
                }
                maskBit <<= 1
            }
        }
    }

    /// The 6-bit scale and min of sub-block j (0..<8) packed in the 12 `scales` bytes of block_q4_K: sub-blocks
    /// 0-3 use the low 6 bits of bytes j and j + 4; sub-blocks 4-7 take their low 4 bits from byte j + 4 and their
    /// top 2 bits from the spare high bits of bytes j − 4 (scale) and j (min).
    static func q4_KScaleAndMin(_ q: UnsafePointer<UInt8>, _ j: Int) -> (scale: UInt8, minimum: UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    /// block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }: 8 sub-blocks of 32, x = d·sc·q − dmin·m.
    /// Each 32 bytes of qs hold two sub-blocks: low nibbles the first, high nibbles the second.
    static func q4_K(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(src, 0), dmin = half(src, 2)
        let scales = (src + 4).assumingMemoryBound(to: UInt8.self)
        let qs = (src + 16).assumingMemoryBound(to: UInt8.self)
        for pair in 0..<4 {
            let (sc0, m0) = q4_KScaleAndMin(scales, 2 * pair)
            let (sc1, m1) = q4_KScaleAndMin(scales, 2 * pair + 1)
            let d0 = d * Float(sc0), min0 = dmin * Float(m0)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let q = qs + 32 * pair, y = out + 64 * pair
            for l in 0..<32 {
                y[l] = d0 * Float(q[l] & 0x0F) - min0
                y[l + 32] = d1 * Float(q[l] >> 4) - min1
            }
        }
    }

    /// block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: as q4_K with a fifth bit per element:
    /// sub-block s takes it from bit s of qh[l].
    static func q5_K(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(src, 0), dmin = half(src, 2)
        let scales = (src + 4).assumingMemoryBound(to: UInt8.self)
        let qh = (src + 16).assumingMemoryBound(to: UInt8.self)
        let qs = (src + 48).assumingMemoryBound(to: UInt8.self)
        for pair in 0..<4 {
            let (sc0, m0) = q4_KScaleAndMin(scales, 2 * pair)
            let (sc1, m1) = q4_KScaleAndMin(scales, 2 * pair + 1)
            let d0 = d * Float(sc0), min0 = dmin * Float(m0)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let bit0: UInt8 = 1 << UInt8(2 * pair), bit1: UInt8 = 2 << UInt8(2 * pair)
            let q = qs + 32 * pair, y = out + 64 * pair
            for l in 0..<32 {
                y[l] = d0 * Float((q[l] & 0x0F) + (qh[l] & bit0 != 0 ? 16 : 0)) - min0
                y[l + 32] = d1 * Float((q[l] >> 4) + (qh[l] & bit1 != 0 ? 16 : 0)) - min1
            }
        }
    }

    /// block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: 16 sub-blocks of 16, x = d·sc·(q − 32) with
    /// 6-bit q = 4 low bits from ql and 2 high bits from qh. Each half (128 elements) uses 64 ql, 32 qh, 8 scales.
    static func q6_K(_ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(src, 208)
        for halfIndex in 0..<2 {
            let ql = (src + 64 * halfIndex).assumingMemoryBound(to: UInt8.self)
            let qh = (src + 128 + 32 * halfIndex).assumingMemoryBound(to: UInt8.self)
            let sc = (src + 192 + 8 * halfIndex).assumingMemoryBound(to: Int8.self)
            let y = out + 128 * halfIndex
            for l in 0..<32 {
                let s = l / 16
                let q1 = Int(ql[l] & 0x0F) | Int((qh[l] >> 0) & 3) << 4
                let q2 = Int(ql[l + 32] & 0x0F) | Int((qh[l] >> 2) & 3) << 4
                let q3 = Int(ql[l] >> 4) | Int((qh[l] >> 4) & 3) << 4
                let q4 = Int(ql[l + 32] >> 4) | Int((qh[l] >> 6) & 3) << 4
                y[l] = d * Float(sc[s]) * Float(q1 - 32)
                y[l + 32] = d * Float(sc[s + 2]) * Float(q2 - 32)
                y[l + 64] = d * Float(sc[s + 4]) * Float(q3 - 32)
                y[l + 96] = d * Float(sc[s + 6]) * Float(q4 - 32)
            }
        }
    }
}

public enum DequantizeError: Error, CustomStringConvertible, Equatable {
    case unsupportedType(String)
    case sizeMismatch(type: String, elements: Int, bytes: Int)

    public var description: String {
        switch self {
        case let .unsupportedType(name):
            return "cannot dequantize ggml type \(name) (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"
        case let .sizeMismatch(type, elements, bytes):
            return "\(elements) elements of \(type) do not fit \(bytes) bytes"
        }
    }
}
