import XCTest
@testable import Models

/// Each ggml block type decoded from hand-built bytes. Expected values follow the layouts of ggml-common.h.
final class DequantizeTests: XCTestCase {
    func decode(_ bytes: [UInt8], _ type: GGMLType, count: Int) throws -> [Float] {
        try bytes.withUnsafeBytes { try Dequantize.toFloat32($0, type: type, count: count) }
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }

    func testF32() throws {
        let values: [Float] = [1.5, -2.25, 0, .greatestFiniteMagnitude]
        let bytes = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        XCTAssertEqual(try decode(bytes, .f32, count: 4), values)
    }

    func testF16IncludingSubnormalAndInfinity() throws {
        // 1.0, -2.0, smallest subnormal 2^-24, 65504 (largest), +inf
        let bytes = [0x3C00, 0xC000, 0x0001, 0x7BFF, 0x7C00].flatMap { le16(UInt16($0)) }
        XCTAssertEqual(try decode(bytes, .f16, count: 5), [1, -2, Float(1) / 16_777_216, 65504, .infinity])
    }

    func testBF16() throws {
        let bytes = [0x3F80, 0xC040, 0x4049].flatMap { le16(UInt16($0)) }  // 1, -3, 3.140625
        XCTAssertEqual(try decode(bytes, .bf16, count: 3), [1, -3, 3.140625])
    }

    func testQ8_0() throws {
        // d = 0.5 (f16 0x3800); quants -16 ... 15
        let quants = (0..<32).map { Int8($0 - 16) }
        let bytes = le16(0x3800) + quants.map { UInt8(bitPattern: $0) }
        XCTAssertEqual(try decode(bytes, .q8_0, count: 32), quants.map { Float($0) * 0.5 })
    }

    func testQ4_0() throws {
        // d = 2 (0x4000); byte j: low nibble j (element j), high nibble 15 - j (element j + 16); x = d (q - 8)
        let packed: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j | (15 - j) << 4) }
        let bytes: [UInt8] = le16(0x4000) + packed
        let low: [Float] = (0..<16).map { (j: Int) -> Float in Float(j - 8) * 2 }
        let high: [Float] = (0..<16).map { (j: Int) -> Float in Float(7 - j) * 2 }
        let expected = low + high
        XCTAssertEqual(try decode(bytes, .q4_0, count: 32), expected)
    }

    func testQ4_1() throws {
        // d = 0.5 (0x3800), m = -1 (0xBC00); x = d q + m
        let packed: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j | (15 - j) << 4) }
        let bytes: [UInt8] = le16(0x3800) + le16(0xBC00) + packed
        let low: [Float] = (0..<16).map { (j: Int) -> Float in Float(j) * 0.5 - 1 }
        let high: [Float] = (0..<16).map { (j: Int) -> Float in Float(15 - j) * 0.5 - 1 }
        let expected = low + high
        XCTAssertEqual(try decode(bytes, .q4_1, count: 32), expected)
    }

    func testQ4_K() throws {
        // Sub-block scales sc = [1, 2, 3, 4, 17, 33, 50, 63] and mins m = [5, 6, 7, 8, 20, 40, 60, 9], packed:
        // bytes 0-3: sc[0-3] | (sc[4-7] >> 4) << 6;  bytes 4-7: m[0-3] | (m[4-7] >> 4) << 6;
        // bytes 8-11: (sc[4-7] & 15) | (m[4-7] & 15) << 4.
        let scaleBytes: [UInt8] = [65, 130, 195, 196, 69, 134, 199, 8, 65, 129, 194, 159]
        let sc: [Float] = [1, 2, 3, 4, 17, 33, 50, 63], m: [Float] = [5, 6, 7, 8, 20, 40, 60, 9]
        let qs: [UInt8] = (0..<128).map { (i: Int) -> UInt8 in UInt8(i % 16 | ((i * 7) % 16) << 4) }
        let bytes: [UInt8] = le16(0x3C00) + le16(0x3800) + scaleBytes + qs   // d = 1, dmin = 0.5
        var expected = [Float](repeating: 0, count: 256)
        for i in 0..<128 {
            // qs[32 p + l]: low nibble → element 64 p + l (sub-block 2p), high → 64 p + 32 + l (sub-block 2p + 1)
            let p = i / 32, l = i % 32
            expected[64 * p + l] = 1 * sc[2 * p] * Float(i % 16) - 0.5 * m[2 * p]
            expected[64 * p + 32 + l] = 1 * sc[2 * p + 1] * Float((i * 7) % 16) - 0.5 * m[2 * p + 1]
        }
        XCTAssertEqual(try decode(bytes, .q4_K, count: 256), expected)
    }

    func testQ6_K() throws {
        let ql: [UInt8] = (0..<128).map { (i: Int) -> UInt8 in UInt8(i) }
        let qh: [UInt8] = (0..<64).map { (i: Int) -> UInt8 in UInt8((i * 37) & 0xFF) }
        let scales: [Int8] = [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16]
        let scaleBytes: [UInt8] = scales.map { UInt8(bitPattern: $0) }
        let bytes: [UInt8] = ql + qh + scaleBytes + le16(0x3400)  // d = 0.25 at the end
        var expected = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            // Half h (128 elements) uses ql[64h...], qh[32h...], scales[8h...]. Quarter q of a half: 4 low bits from
            // ql[64h + l + 32 (q & 1)] (low nibble for q < 2, high nibble otherwise), 2 high bits from
            // qh[32h + l] >> 2q; scale index 8h + l / 16 + 2q; x = d · scale · (q6 − 32).
            let h = e / 128, quarter = (e % 128) / 32, l = e % 32
            let byte = ql[64 * h + l + 32 * (quarter & 1)]
            let low = quarter < 2 ? byte & 0x0F : byte >> 4
            let q6 = Int(low) | Int((qh[32 * h + l] >> (2 * quarter)) & 3) << 4
            expected[e] = 0.25 * Float(scales[8 * h + l / 16 + 2 * quarter]) * Float(q6 - 32)
        }
        XCTAssertEqual(try decode(bytes, .q6_K, count: 256), expected)
    }

    func testSeveralBlocksAreDecodedInOrder() throws {
        let first = le16(0x3C00) + [UInt8](repeating: 1, count: 32)   // d = 1, q = 1
        let second = le16(0x4000) + [UInt8](repeating: 0xFF, count: 32)  // d = 2, q = -1
        XCTAssertEqual(try decode(first + second, .q8_0, count: 64), [Float](repeating: 1, count: 32) + [Float](repeating: -2, count: 32))
    }

    func testUnsupportedTypeAndWrongSizeAreErrors() throws {
        XCTAssertThrowsError(try decode([UInt8](repeating: 0, count: 292), .q8_K, count: 256)) { error in
            XCTAssertEqual(error as? DequantizeError, .unsupportedType("Q8_K"))
        }
        XCTAssertThrowsError(try decode([UInt8](repeating: 0, count: 136), .iq4_xs, count: 256)) { error in
            XCTAssertEqual(error as? DequantizeError, .unsupportedType("IQ4_XS"))
        }
        XCTAssertThrowsError(try decode([UInt8](repeating: 0, count: 33), .q8_0, count: 32)) { error in
            XCTAssertEqual(error as? DequantizeError, .sizeMismatch(type: "Q8_0", elements: 32, bytes: 33))
        }
    }
}
