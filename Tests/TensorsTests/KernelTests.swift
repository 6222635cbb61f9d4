import Foundation
import XCTest
@testable import Tensors

/// Deterministic pseudo-random values in [-1, 1).
func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

final class LinearTests: XCTestCase {
    /// y: [T, OC] = x: [T, C] · w: [OC, C]ᵀ + b in double precision.
    func reference(x: [Float], w: [Float], bias: [Float]?, T: Int, C: Int, OC: Int) -> [Float] {
        (0..<(T * OC)).map { i in
            let t = i / OC, o = i % OC
            var sum = 0.0
            for c in 0..<C { sum += Double(x[t * C + c]) * Double(w[o * C + c]) }
            return Float(sum + Double(bias?[o] ?? 0))
        }
    }

    func testAllPathsMatchReferenceForOddShapes() {
        defer { restoreDefaultKernelPath() }
        let variants = KernelInfo.availablePaths.flatMap { path in WeightPrecision.allCases.map { (path, $0) } }
        for (path, precision) in variants {
            useKernelPath(path)
            // Shapes reach every register block: 4 panels × 6/4/2/1 tokens, single panels × 6/1 tokens, ragged edges.
            for (T, C, OC) in [(1, 37, 7), (1, 37, 70), (2, 64, 65), (3, 64, 33), (5, 16, 4), (17, 70, 19), (70, 33, 130)] {
                let x = pseudoRandom(T * C, seed: 1), rawW = pseudoRandom(OC * C, seed: 2), bias = pseudoRandom(OC, seed: 3)
                // The reference uses the weights as stored and the activations as the kernel sees them (rounded to
                // bf16, or quantized to 8 bits per block), so only the summation order differs.
                let stored = WeightMatrix(rows: OC, columns: C, values: rawW, precision: precision)
                let w = stored.toFloat32()
                let xUsed: [Float]
                switch precision {
                case .f32: xUsed = x
                case .bf16: xUsed = x.map { BFloat16.float(fromBits: BFloat16.bits(from: $0)) }
                case .int8: xUsed = Int8Activations(x, rows: T, columns: C).dequantized
                }
                var y = [Float](repeating: 0, count: T * OC)
                Linear.forward(out: &y, inp: x, weight: stored, bias: bias, rows: T)
                let expected = reference(x: xUsed, w: w, bias: bias, T: T, C: C, OC: OC)
                XCTAssertLessThanOrEqual(zip(y, expected).map { abs($0 - $1) }.max()!, 1e-4, "\(precision) T=\(T) C=\(C) OC=\(OC) path=\(path)")
                // accumulate adds to what is there
                var accumulated = [Float](repeating: 1, count: T * OC)
                Linear.forward(out: &accumulated, inp: x, weight: stored, bias: nil, rows: T, accumulate: true)
                let withoutBias = reference(x: xUsed, w: w, bias: nil, T: T, C: C, OC: OC)
                XCTAssertLessThanOrEqual(zip(accumulated, withoutBias).map { abs($0 - 1 - $1) }.max()!, 1e-4)
            }
        }
    }

    /// A token's output does not depend on the batch it runs in (each output is one fixed sequence of operations),
    /// for every precision and path; every path gives the portable bits except bf16 on AVX-512 (`vdpbf16ps` rounds
    /// its pair sums differently from a scalar loop; the AVX2 path widens and rounds as the portable one).
    func testOutputsDoNotDependOnBatchOrPath() {
        defer { restoreDefaultKernelPath() }
        let C = 160, OC = 100, T = 8
        let x = pseudoRandom(T * C, seed: 32)
        for precision in WeightPrecision.allCases {
            let weight = WeightMatrix(rows: OC, columns: C, values: pseudoRandom(OC * C, seed: 31), precision: precision)
            var byPath = [[Float]]()
            for path in KernelInfo.availablePaths {
                useKernelPath(path)
                var all = [Float](repeating: 0, count: T * OC)
                Linear.forward(out: &all, inp: x, weight: weight, bias: nil, rows: T)
                for t in 0..<T {
                    var single = [Float](repeating: 0, count: OC)
                    Linear.forward(out: &single, inp: Array(x[(t * C)..<((t + 1) * C)]), weight: weight, bias: nil, rows: 1)
                    XCTAssertEqual(single, Array(all[(t * OC)..<((t + 1) * OC)]), "\(precision) token \(t) path=\(path)")
                }
                byPath.append(all)
            }
            for (path, all) in zip(KernelInfo.availablePaths, byPath) where precision != .bf16 || path != .avx512 {
                XCTAssertEqual(all, byPath[0], "\(precision): \(path) and portable")
            }
        }
    }

    /// Large matrices are packed in parallel by panel ranges: the result equals packing each row on its own.
    func testParallelPackingEqualsRowByRowPacking() {
        let rows = 16 * 40 + 5, columns = 40
        let values = pseudoRandom(rows * columns, seed: 41)
        for precision in WeightPrecision.allCases {
            let whole = WeightMatrix(rows: rows, columns: columns, values: values, precision: precision).toFloat32()
            let rowByRow = (0..<rows).flatMap { row in
                WeightMatrix(rows: 1, columns: columns, values: Array(values[(row * columns)..<((row + 1) * columns)]),
                             precision: precision).toFloat32()
            }
            XCTAssertEqual(whole, rowByRow, "\(precision)")
            if precision == .f32 { XCTAssertEqual(whole, values) }
        }
    }

    func testBF16StorageRoundsToNearestEven() {
        let values: [UInt32] = [0x3F80_8000, 0x3F81_8000, 0x3F80_8001, 0x3F80_7FFF, 0xC049_0FDB]
        let expected: [UInt16] = [0x3F80, 0x3F82, 0x3F81, 0x3F80, 0xC049]
        XCTAssertEqual(values.map { BFloat16.bits(from: Float(bitPattern: $0)) }, expected)
        XCTAssertTrue(BFloat16.float(fromBits: BFloat16.bits(from: .nan)).isNaN)
        XCTAssertEqual(BFloat16.float(fromBits: BFloat16.bits(from: -.infinity)), -.infinity)
        let matrix = WeightMatrix(rows: 1, columns: 5, values: values.map { Float(bitPattern: $0) }, precision: .bf16)
        XCTAssertEqual(matrix.toFloat32(), expected.map(BFloat16.float(fromBits:)))
        XCTAssertEqual(matrix.byteCount, 16 * 6 * 2)  // one panel of 16 rows × 3 k-pairs
    }
}

final class LayerKernelTests: XCTestCase {
    func testRMSNorm() {
        let x: [Float] = [1, 2, 3, 4, -1, 0, 0, 1]
        let weight: [Float] = [1, 0.5, 2, 1]
        var y = [Float](repeating: 0, count: 8)
        RMSNorm.forward(out: &y, inp: x, weight: weight, rows: 2, channels: 4, epsilon: 0)
        let s0 = (30.0 / 4).squareRoot(), s1 = (2.0 / 4).squareRoot()
        let expected = [1 / s0, 2 / s0 * 0.5, 3 / s0 * 2, 4 / s0, -1 / s1, 0, 0, 1 / s1].map(Float.init)
        XCTAssertLessThanOrEqual(zip(y, expected).map { abs($0 - $1) }.max()!, 1e-6)
    }

    func testSwiGLU() {
        let gateUp: [Float] = [0, 1, -2, 3, 4, 5]  // one row, F = 3: gate [0, 1, -2], up [3, 4, 5]
        var y = [Float](repeating: 0, count: 3)
        SwiGLU.forward(out: &y, gateUp: gateUp, rows: 1, features: 3)
        let silu = { (g: Double) in g / (1 + exp(-g)) }
        for (got, expected) in zip(y, [silu(0) * 3, silu(1) * 4, silu(-2) * 5]) { XCTAssertEqual(Double(got), expected, accuracy: 1e-6) }
    }

    /// A gated activation on every path, gate in [-30, 30] (601 or 603 features: not a multiple of 16 or 8, so the
    /// vector tails run), against its double-precision formula `expected(g) · up`.
    func checkGatedUnit(features F: Int, seed: UInt64, forward: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int, Int) -> Void,
                        expected: (Double) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        defer { restoreDefaultKernelPath() }
        let gate = (0..<F).map { Float($0 - F / 2) / 10 }, up = pseudoRandom(F, seed: seed)
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            var y = [Float](repeating: 0, count: F)
            forward(&y, gate + up, 1, F)
            for f in 0..<F {
                let want = expected(Double(gate[f])) * Double(up[f])
                XCTAssertEqual(Double(y[f]), want, accuracy: 1e-6 * max(1, abs(want)), "g = \(gate[f]), path = \(path)",
                               file: file, line: line)
            }
        }
    }

    func testSwiGLUAcrossTheRangeInBothImplementations() {
        checkGatedUnit(features: 601, seed: 11, forward: { SwiGLU.forward(out: $0, gateUp: $1, rows: $2, features: $3) },
                       expected: { g in g / (1 + exp(-g)) })
    }

    /// GeGLU (Gemma) against GELU's tanh formula (the vector paths use g / (1 + exp(-2u)) = g/2 · (1 + tanh u)).
    func testGeGLUAcrossTheRangeInEveryImplementation() {
        checkGatedUnit(features: 603, seed: 12, forward: { GeGLU.forward(out: $0, gateUp: $1, rows: $2, features: $3) },
                       expected: { g in 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * g * (1 + 0.044715 * g * g))) })
    }

    func testRoPEPairingsAgreeUnderThePermutation() {
        // A head in halves layout, and the same head with its pairs interleaved (i, i + D/2) → (2i, 2i + 1).
        let D = 8, positions = [0, 3, 17]
        let halves = pseudoRandom(positions.count * 2 * D, seed: 5)  // 3 rows, 2 heads
        let adjacent = halves.indices.map { index -> Float in
            let head = index / D, k = index % D
            return halves[head * D + (k % 2 == 0 ? k / 2 : k / 2 + D / 2)]
        }
        let table = RoPE.Table(positions: positions, headDimension: D, theta: 10000)
        var a = halves, b = adjacent
        a.withUnsafeMutableBufferPointer { p in
            for row in 0..<3 { RoPE.forward(p.baseAddress! + row * 2 * D, table: table, row: row, heads: 2, pairing: .halves) }
        }
        b.withUnsafeMutableBufferPointer { p in
            for row in 0..<3 { RoPE.forward(p.baseAddress! + row * 2 * D, table: table, row: row, heads: 2, pairing: .adjacent) }
        }
        for index in b.indices {
            let head = index / D, k = index % D
            XCTAssertEqual(b[index], a[head * D + (k % 2 == 0 ? k / 2 : k / 2 + D / 2)], accuracy: 1e-6)
        }
        XCTAssertEqual(Array(a[0..<(2 * D)]), Array(halves[0..<(2 * D)]), "position 0 does not rotate")
        // Pair 0 of row 1 (position 3) turns by 3 radians.
        let (x0, x1) = (halves[2 * D], halves[2 * D + D / 2])
        XCTAssertEqual(a[2 * D], x0 * Float(cos(3.0)) - x1 * Float(sin(3.0)), accuracy: 1e-6)
    }

    /// Naive causal attention of one query against L cached rows, one head.
    func naiveAttention(q: ArraySlice<Float>, keys: [[Float]], values: [[Float]]) -> [Float] {
        let D = q.count
        let scores = keys.map { k in zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / Double(D).squareRoot() }
        let maximum = scores.max()!
        let weights = scores.map { exp($0 - maximum) }
        let total = weights.reduce(0, +)
        return (0..<D).map { d in Float(zip(weights, values).reduce(0.0) { $0 + $1.0 / total * Double($1.1[d]) }) }
    }

    /// Queries at positions start..<L of one sequence with H query heads over KVH key/value heads stored in
    /// `format`, row by row (both implementations) and block-wise (prefill path), against `naiveAttention` over
    /// the stored values widened back to f32.
    func checkAttention(heads H: Int, keyValueHeads KVH: Int, headDimension D: Int, length L: Int, start: Int,
                        format: KeyValueFormat, seed: UInt64) {
        let n = L - start, KV = KVH * D, Q = H * D
        let keys = pseudoRandom(L * KV, seed: seed).map { $0 * 3 }, values = pseudoRandom(L * KV, seed: seed + 1)
        let queries = pseudoRandom(n * Q, seed: seed + 2)
        // The cache as stored, and its values as the kernels see them.
        var keyBytes = [UInt8](repeating: 0, count: L * KV * format.bytesPerElement), valueBytes = keyBytes
        format.store(keys, to: &keyBytes, count: keys.count)
        format.store(values, to: &valueBytes, count: values.count)
        var keysUsed = [Float](repeating: 0, count: L * KV), valuesUsed = keysUsed
        format.load(keyBytes, to: &keysUsed, count: keys.count)
        format.load(valueBytes, to: &valuesUsed, count: values.count)
        XCTAssertLessThanOrEqual(zip(keys, keysUsed).map { abs($0 - $1) }.max()!, format == .f32 ? 0 : 3 * 0x1p-11)
        var expected = [Float](repeating: 0, count: n * Q)
        for i in 0..<n {
            for h in 0..<H {
                let g = h / (H / KVH), visible = start + i + 1
                let k = (0..<visible).map { Array(keysUsed[($0 * KV + g * D)..<($0 * KV + g * D + D)]) }
                let v = (0..<visible).map { Array(valuesUsed[($0 * KV + g * D)..<($0 * KV + g * D + D)]) }
                let out = naiveAttention(q: queries[(i * Q + h * D)..<(i * Q + h * D + D)], keys: k, values: v)
                for d in 0..<D { expected[i * Q + h * D + d] = out[d] }
            }
        }
        defer { restoreDefaultKernelPath() }
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            var rowWise = [Float](repeating: 0, count: n * Q)
            var scores = [Float](repeating: 0, count: Attention.scoreScratchCount(length: L))
            // Head ranges as the model's parallel tasks cut them: here after the first head, inside a group.
            for i in 0..<n {
                for heads in [0..<1, 1..<H] {
                    rowWise.withUnsafeMutableBufferPointer { out in
                        queries.withUnsafeBufferPointer { q in
                            Attention.forwardRow(out: out.baseAddress! + i * Q, query: q.baseAddress! + i * Q, keys: keyBytes,
                                                 values: valueBytes, format: format, length: start + i + 1, heads: H,
                                                 keyValueHeads: KVH, headDimension: D, scores: &scores, heads: heads)
                        }
                    }
                }
            }
            XCTAssertLessThanOrEqual(zip(rowWise, expected).map { abs($0 - $1) }.max()!, 1e-5, "\(format), path = \(path)")
        }
        var blockWise = [Float](repeating: 0, count: n * Q)
        for h in 0..<H {
            let offset = h / (H / KVH) * D * format.bytesPerElement
            blockWise.withUnsafeMutableBufferPointer { out in
                Attention.forwardBlock(out: out.baseAddress! + h * D, outStride: Q, query: Array(queries[(h * D)...]), queryStride: Q,
                                       keys: Array(keyBytes[offset...]), values: Array(valueBytes[offset...]), format: format,
                                       kvStride: KV, start: start, rows: n, headDimension: D)
            }
        }
        XCTAssertLessThanOrEqual(zip(blockWise, expected).map { abs($0 - $1) }.max()!, 1e-5, "\(format)")
    }

    func testAttentionRowAndBlockMatchNaiveWithGroupedHeads() {
        checkAttention(heads: 4, keyValueHeads: 2, headDimension: 8, length: 13, start: 6, format: .f32, seed: 7)
        // Groups of 1, 3 and 6 query heads (6 = one pass of 4 heads, then one of 2); 6 and 1 with f16 below.
        checkAttention(heads: 3, keyValueHeads: 3, headDimension: 64, length: 40, start: 30, format: .f32, seed: 40)
        checkAttention(heads: 9, keyValueHeads: 3, headDimension: 64, length: 37, start: 33, format: .f32, seed: 41)
    }

    /// f16 keys and values; D = 40 leaves masked lanes in every pass.
    func testAttentionOverHalfPrecisionCache() {
        checkAttention(heads: 6, keyValueHeads: 2, headDimension: 40, length: 21, start: 9, format: .f16, seed: 17)
        checkAttention(heads: 12, keyValueHeads: 2, headDimension: 64, length: 35, start: 31, format: .f16, seed: 18)
        checkAttention(heads: 2, keyValueHeads: 2, headDimension: 72, length: 18, start: 10, format: .f16, seed: 19)
    }

    func testHalfConversionRoundsToNearestEvenInBothImplementations() {
        defer { restoreDefaultKernelPath() }
        // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1);
        // 1 + 3·2^-11 goes up to 1 + 2^-9. 65519 rounds to 65504 (the largest half), 65520 to infinity.
        // 2^-24 is the smallest subnormal, 2^-25 ties to 0 and 3·2^-25 to 2·2^-24.
        let values: [Float] = [1, 1 + 0x1p-11, 1 + 3 * 0x1p-11, -2.5, 65519, 65520, -70000, 0x1p-24, 0x1p-25, 3 * 0x1p-25,
                               0x1p-14, .infinity]
        let expected: [UInt16] = [0x3C00, 0x3C00, 0x3C02, 0xC100, 0x7BFF, 0x7C00, 0xFC00, 0x0001, 0x0000, 0x0002,
                                  0x0400, 0x7C00]
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            XCTAssertEqual(halfBits(values), expected, "path = \(path)")
            XCTAssertTrue(Half.float(fromBits: Half.bits(from: .nan)).isNaN, "path = \(path)")
            // Widening is exact: every finite half comes back to the value it encodes.
            for h in stride(from: 0, through: 0x7BFF, by: 37) {
                let value = Half.float(fromBits: UInt16(h))
                XCTAssertEqual(Half.bits(from: value), UInt16(h), "half \(h), path = \(path)")
            }
            XCTAssertEqual(Half.float(fromBits: 0x0001), 0x1p-24)
            XCTAssertEqual(Half.float(fromBits: 0xFC00), -.infinity)
        }
    }

    /// Each value narrowed one at a time and in bulk (16 lanes with a masked tail); the two must agree.
    func halfBits(_ values: [Float]) -> [UInt16] {
        let single = values.map(Half.bits(from:))
        var bulk = [UInt16](repeating: 0, count: values.count)
        KeyValueFormat.f16.store(values, to: &bulk, count: values.count)
        XCTAssertEqual(bulk, single)
        return single
    }

    func testRMSNormInBothImplementationsAgainstDouble() {
        defer { restoreDefaultKernelPath() }
        let T = 3, C = 37  // a masked tail
        let x = pseudoRandom(T * C, seed: 21).map { $0 * 30 }, weight = pseudoRandom(C, seed: 22)
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            var y = [Float](repeating: 0, count: T * C)
            RMSNorm.forward(out: &y, inp: x, weight: weight, rows: T, channels: C, epsilon: 1e-5)
            for t in 0..<T {
                let row = x[(t * C)..<((t + 1) * C)].map(Double.init)
                let scale = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(C) + 1e-5).squareRoot()
                for c in 0..<C {
                    XCTAssertEqual(Double(y[t * C + c]), row[c] * scale * Double(weight[c]), accuracy: 1e-6, "path = \(path)")
                }
            }
        }
    }

    func testArgmaxTakesTheFirstMaximumAndSkipsNaN() {
        defer { restoreDefaultKernelPath() }
        var values = pseudoRandom(1000, seed: 31)
        values[17] = 5
        values[700] = 5  // a tie in another lane: the first wins
        values[3] = .nan
        values[999] = .nan
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            XCTAssertEqual(values.withUnsafeBufferPointer { Argmax.index($0) }, 17, "path = \(path)")
            XCTAssertEqual([Float](repeating: -.infinity, count: 5).withUnsafeBufferPointer { Argmax.index($0) }, 0)
            XCTAssertNil([Float.nan, .nan].withUnsafeBufferPointer { Argmax.index($0) })
            XCTAssertNil([Float]().withUnsafeBufferPointer { Argmax.index($0) })
            let increasing = (0..<33).map(Float.init)  // the maximum in the masked tail
            XCTAssertEqual(increasing.withUnsafeBufferPointer { Argmax.index($0) }, 32)
        }
    }

    func testLogSoftmaxIsNormalizedAndStable() {
        let logits: [Float] = [1000, 999, 998, -1000]
        var out = [Float](repeating: 0, count: 4)
        logits.withUnsafeBufferPointer { l in out.withUnsafeMutableBufferPointer { LogSoftmax.forward(l, into: $0) } }
        XCTAssertEqual(out.reduce(0.0) { $0 + exp(Double($1)) }, 1, accuracy: 1e-6)
        let normalizer = log(1 + exp(-1.0) + exp(-2.0))
        XCTAssertEqual(Double(out[0]), -normalizer, accuracy: 1e-6)
        XCTAssertEqual(Double(LogSoftmax.logProbability(of: 1, logits: logits[...])), -1 - normalizer, accuracy: 1e-6)
    }

    func testEmbeddingLookup() {
        let table: [Float] = [0, 1, 10, 11, 20, 21]  // V = 3, C = 2
        var out = [Float](repeating: 0, count: 4)
        Embedding.forward(out: &out, table: table, tokens: [2, 0], rows: 2, channels: 2)
        XCTAssertEqual(out, [20, 21, 0, 1])
    }
}

final class RuntimeTests: XCTestCase {
    func testParallelForCoversEveryIndexOnceWithAlignedChunks() {
        for count in [1, 2, 7, 64, 1000, 49152] {
            for alignment in [1, 4, 16] {
                let hits = UnsafeMutablePointer<Int32>.allocate(capacity: count)
                hits.initialize(repeating: 0, count: count)
                defer { hits.deallocate() }
                let chunkStarts = UnsafeMutablePointer<Bool>.allocate(capacity: count)
                chunkStarts.initialize(repeating: false, count: count)
                defer { chunkStarts.deallocate() }
                ComputePool.parallelFor(count, grain: 3, alignment: alignment, maximumChunk: 500) { range in
                    chunkStarts[range.lowerBound] = true
                    for i in range { hits[i] += 1 }
                }
                XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "count \(count) alignment \(alignment)")
                XCTAssertTrue((0..<count).allSatisfy { !chunkStarts[$0] || $0 % alignment == 0 }, "alignment \(alignment)")
            }
        }
    }

    func testStreamedMemoryAlignsLargeBlocksToHugePages() {
        for (bytes, alignment) in [(1, 64), (1000, 64), ((1 << 20) - 1, 64), (1 << 20, 2 << 20), ((5 << 20) + 3, 2 << 20)] {
            let block = StreamedMemory.allocate(byteCount: bytes)
            defer { StreamedMemory.deallocate(block) }
            XCTAssertEqual(Int(bitPattern: block) % alignment, 0, "\(bytes) bytes")
            // Every byte asked for is usable.
            block.initializeMemory(as: UInt8.self, repeating: 0xA5, count: bytes)
            XCTAssertEqual(block.load(fromByteOffset: bytes - 1, as: UInt8.self), 0xA5)
        }
    }

    func testCoreTypeFromCPUFlags() {
        let avx512 = "processor : 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_bf16\n"
        XCTAssertEqual(BLASEnvironment.recommendedCoreType(cpuFlags: BLASEnvironment.cpuFlags(cpuinfo: avx512)), "SkylakeX")
        XCTAssertEqual(BLASEnvironment.recommendedCoreType(cpuFlags: ["avx2", "fma"]), "Haswell")
        XCTAssertNil(BLASEnvironment.recommendedCoreType(cpuFlags: ["sse2"]))
        XCTAssertEqual(BLASEnvironment.cpuFlags(cpuinfo: "no flags here"), [])
    }

    func testBLASIsSingleThreadedUnderThePool() {
        _ = ComputePool.workerCount
        XCTAssertEqual(BLASEnvironment.blasThreadCount, 1)
    }
}

/// Decode attention gives each head the same bits whichever heads share its kernel call (issue 11: decode splits a
/// row's heads across tasks by batch size and thread count), on every path and cache format, for GQA groups of 3
/// and 5 (more than TORL_ATTENTION_MAX_GROUP) and a head dimension with a tail (80).
final class AttentionHeadSplitTests: XCTestCase {
    override func tearDown() { restoreDefaultKernelPath() }

    func testHeadOutputsDoNotDependOnTheHeadsBesideThem() {
        for (H, KVH, D, L) in [(9, 3, 64, 37), (10, 2, 80, 5)] {
            let q = pseudoRandom(H * D, seed: 61), keys = pseudoRandom(L * KVH * D, seed: 62), values = pseudoRandom(L * KVH * D, seed: 63)
            for path in KernelInfo.availablePaths {
                useKernelPath(path)
                for format in [KeyValueFormat.f32, .f16] {
                    var keyBytes = [UInt8](repeating: 0, count: L * KVH * D * format.bytesPerElement), valueBytes = keyBytes
                    keyBytes.withUnsafeMutableBytes { format.store(keys, to: $0.baseAddress!, count: L * KVH * D) }
                    valueBytes.withUnsafeMutableBytes { format.store(values, to: $0.baseAddress!, count: L * KVH * D) }
                    func run(_ ranges: [Range<Int>]) -> [Float] {
                        var out = [Float](repeating: .nan, count: H * D)
                        var scores = [Float](repeating: 0, count: Attention.scoreScratchCount(length: L))
                        for range in ranges {
                            Attention.forwardRow(out: &out, query: q, keys: keyBytes, values: valueBytes, format: format, length: L,
                                                 heads: H, keyValueHeads: KVH, headDimension: D, scores: &scores, heads: range)
                        }
                        return out
                    }
                    let together = run([0..<H])
                    for split in [(0..<H).map { $0..<($0 + 1) }, [0..<1, 1..<4, 4..<H], [0..<2, 2..<7, 7..<H]] {
                        XCTAssertEqual(run(split).map(\.bitPattern), together.map(\.bitPattern), "H=\(H) \(format) \(path) split \(split)")
                    }
                }
            }
        }
    }
}
