import CKernels

/// bfloat16 conversions (bit patterns in UInt16): exact widening, round-to-nearest-even narrowing.
public enum BFloat16 {
    public static func float(fromBits bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    public static func bits(from value: Float) -> UInt16 {
        var input = value
        var output: UInt16 = 0
        torl_f32_to_bf16(&input, &output, 1)
        return output
    }

    /// dst: [n] bf16 ← src: [n] f32
    public static func narrow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        torl_f32_to_bf16(src, dst, count)
    }
}

/// IEEE half precision (bit patterns in UInt16): exact widening including subnormals, infinities and NaN;
/// narrowing rounded to nearest even. The one implementation is in CKernels (also used by the f16 KV cache);
/// `Float16` is unavailable on some x86-64 toolchains.
public enum Half {
    public static func float(fromBits h: UInt16) -> Float {
        var input = h
        var output: Float = 0
        torl_f16_to_f32(&input, &output, 1)
        return output
    }

    public static func bits(from value: Float) -> UInt16 {
        var input = value
        var output: UInt16 = 0
        torl_f32_to_f16(&input, &output, 1)
        return output
    }
}
