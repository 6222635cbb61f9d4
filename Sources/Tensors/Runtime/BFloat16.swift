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

/// IEEE half precision (bit patterns in UInt16) to Float, exact, including subnormals, infinities and NaN.
/// Written out rather than using `Float16`, which is unavailable on some x86-64 toolchains.
public enum Half {
    public static func float(fromBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0 {
            // Subnormal or zero: mantissa * 2^-24.
            let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }
}
