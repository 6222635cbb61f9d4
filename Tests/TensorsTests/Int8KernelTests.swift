import CKernels
import XCTest
@testable import Tensors

/// Activations quantized by `torl_quantize_q8`: codes [T, Kpad], scales and scaled code sums [T, Kpad / 32].
struct Int8Activations {
    let rows: Int, columns: Int, stride: Int, blocks: Int
    var codes: [Int8], scales: [Float], scaledSums: [Float]

    init(_ x: [Float], rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        stride = torl_q8_padded_columns(columns)
        blocks = stride / Int(TORL_Q8_BLOCK)
        codes = [Int8](repeating: 99, count: rows * stride)
        scales = [Float](repeating: -1, count: rows * blocks)
        scaledSums = [Float](repeating: -1, count: rows * blocks)
        torl_quantize_q8(x, rows, columns, columns, &codes, stride, &scales, &scaledSums)
    }

    /// x̂: [T, C] = scale · code
    var dequantized: [Float] {
        (0..<(rows * columns)).map { i in
            let t = i / columns, k = i % columns
            return scales[t * blocks + k / Int(TORL_Q8_BLOCK)] * Float(codes[t * stride + k])
        }
    }
}

final class Int8KernelTests: XCTestCase {
    override func tearDown() { restoreDefaultKernelPath() }

    /// Weights made like a Q4_1 tensor (each block of 32: minimum + step · q, q in 0...15 with both ends used)
    /// come back from the 8-bit codes to within float rounding: the 8-bit step is the 4-bit step / 17.
    func testPackingReproducesQ4_1BlocksAndBoundsOtherErrors() {
        let rows = 19, columns = 96
        var values = [Float](), steps = [Float]()
        let draws = pseudoRandom(rows * columns + 2 * rows * 3, seed: 11)
        for row in 0..<rows {
            for block in 0..<3 {
                let step = 0.01 + 0.02 * abs(draws[rows * columns + 2 * (row * 3 + block)])
                let minimum = -0.1 * abs(draws[rows * columns + 2 * (row * 3 + block) + 1])
                for i in 0..<32 {
                    let q = i == 0 ? 0 : (i == 1 ? 15 : Int((draws[row * columns + block * 32 + i] + 1) * 7.99))
                    values.append(minimum + step * Float(q))
                    steps.append(step)
                }
            }
        }
        let restored = WeightMatrix(rows: rows, columns: columns, values: values, precision: .int8).toFloat32()
        for i in values.indices {
            XCTAssertLessThanOrEqual(abs(restored[i] - values[i]), 1e-5 * steps[i] / 0.01, "element \(i)")
        }
        // Arbitrary values: within half an 8-bit step of the block's range.
        let arbitrary = pseudoRandom(7 * 45, seed: 12).map { $0 * 3 }
        let arbitraryRestored = WeightMatrix(rows: 7, columns: 45, values: arbitrary, precision: .int8).toFloat32()
        for row in 0..<7 {
            for (start, end) in [(0, 32), (32, 45)] {
                let block = arbitrary[(row * 45 + start)..<(row * 45 + end)]
                let halfStep = (block.max()! - block.min()!) / 255 / 2
                for k in start..<end {
                    XCTAssertLessThanOrEqual(abs(arbitraryRestored[row * 45 + k] - arbitrary[row * 45 + k]), halfStep * 1.001 + 1e-7)
                }
            }
        }
        XCTAssertEqual(WeightMatrix(rows: 7, columns: 45, values: arbitrary, precision: .int8).byteCount,
                       16 * 64 + 8 * 16 * 2)
    }

    /// Codes are nearest-even rounding of x · 127 / max|block| (the padding 0), the scale max|block| / 127 and the
    /// scaled sum scale · Σ codes; an all-zero block has scale 0. Both implementations give the same bytes.
    func testActivationQuantizationInBothImplementations() {
        var x = pseudoRandom(3 * 70, seed: 13).map { $0 * 5 }
        for k in 32..<64 { x[70 + k] = 0 }           // row 1, block 1 all zero
        x[2 * 70 + 5] = 63.5                         // row 2, block 0: max 63.5, so codes are 2x: 1.25 → 2.5 → 2 (even)
        x[2 * 70 + 6] = 1.25
        x[2 * 70 + 7] = -0.75                        // → -1.5 → -2 (even)
        var results = [Int8Activations]()
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            results.append(Int8Activations(x, rows: 3, columns: 70))
        }
        for other in results.dropFirst() {
            XCTAssertEqual(results[0].codes, other.codes)
            XCTAssertEqual(results[0].scales, other.scales)
            XCTAssertEqual(results[0].scaledSums, other.scaledSums)
        }
        let q = results[0]
        XCTAssertEqual(q.stride, 96)
        XCTAssertEqual(q.scales[1 * 3 + 1], 0)
        XCTAssertEqual(q.codes[2 * 96 + 6], 2)
        XCTAssertEqual(q.codes[2 * 96 + 7], -2)
        for t in 0..<3 {
            for b in 0..<3 {
                let range = (b * 32)..<min(b * 32 + 32, 70)
                let maxAbs = range.map { abs(x[t * 70 + $0]) }.max()!
                XCTAssertEqual(q.scales[t * 3 + b], maxAbs / 127)
                var sum = 0
                for k in (b * 32)..<(b * 32 + 32) {
                    let code = q.codes[t * 96 + k]
                    sum += Int(code)
                    if k >= 70 { XCTAssertEqual(code, 0); continue }
                    let exact = maxAbs > 0 ? x[t * 70 + k] * (127 / maxAbs) : 0
                    XCTAssertEqual(Float(code), exact.rounded(.toNearestOrEven), "t \(t) k \(k)")
                }
                XCTAssertEqual(q.scaledSums[t * 3 + b], q.scales[t * 3 + b] * Float(sum))
            }
        }
    }

    /// Every int8 kernel (AVX-512 VNNI, AVX-VNNI, AVX2 vpmaddwd, NEON sdot and widening) and the portable one give bit-identical outputs (same
    /// exact code sums, same f32 order), for every tile shape and ragged edges; the kernel is in use on CPUs that
    /// report avx512_vnni.
    func testVNNIKernelIsBitIdenticalToPortable() throws {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            XCTAssertEqual(torl_kernels_use_avx512_vnni() != 0, path == .avx512 && flags.contains(" avx512_vnni"), "\(path)")
            XCTAssertEqual(torl_kernels_use_avx_vnni() != 0, path == .avxvnni, "\(path)")
            XCTAssertEqual(torl_kernels_use_neon_dot() != 0, path == .neondot, "\(path)")
        }
        for (T, C, OC) in [(1, 576, 70), (2, 40, 64), (3, 33, 17), (7, 96, 81), (13, 200, 130)] {
            let x = pseudoRandom(T * C, seed: 21), w = pseudoRandom(OC * C, seed: 22)
            let weight = WeightMatrix(rows: OC, columns: C, values: w, precision: .int8)
            var outputs = [[Float]]()
            for path in KernelInfo.availablePaths {
                useKernelPath(path)
                var y = [Float](repeating: 0.5, count: T * OC)
                Linear.forward(out: &y, inp: x, weight: weight, bias: nil, rows: T, accumulate: true)
                outputs.append(y)
            }
            for (path, y) in zip(KernelInfo.availablePaths, outputs) { XCTAssertEqual(y, outputs[0], "T=\(T) C=\(C) OC=\(OC) path=\(path)") }
        }
    }

    /// NaN and ±inf propagate as in f32: a non-finite weight turns its block (32 weights of one row) into NaN and
    /// leaves the rest; a non-finite activation makes its token's outputs NaN and leaves the other tokens. A block
    /// too small for a finite reciprocal scale quantizes to zero codes. Both implementations agree bit for bit.
    func testNonFiniteValuesPropagateAndTinyBlocksQuantizeToZero() {
        var w = pseudoRandom(3 * 64, seed: 51)
        w[64 + 40] = .nan                            // row 1, block 1
        w[2 * 64 + 3] = .infinity                    // row 2, block 0
        let restored = WeightMatrix(rows: 3, columns: 64, values: w, precision: .int8).toFloat32()
        for i in 0..<(3 * 64) {
            let poisoned = (64 + 32..<128).contains(i) || (128..<160).contains(i)
            XCTAssertEqual(restored[i].isNaN, poisoned, "weight \(i)")
        }

        var x = pseudoRandom(4 * 64, seed: 52)
        x[64 + 7] = .nan
        x[2 * 64 + 50] = -.infinity
        for k in 0..<32 { x[3 * 64 + k] = 1e-38 * Float(k % 3) }   // row 3, block 0: below 127 / FLT_MAX
        var quantized = [Int8Activations]()
        for path in KernelInfo.availablePaths {
            useKernelPath(path)
            quantized.append(Int8Activations(x, rows: 4, columns: 64))
        }
        for other in quantized.dropFirst() {
            XCTAssertEqual(quantized[0].codes, other.codes)
            XCTAssertEqual(quantized[0].scales.map(\.bitPattern), other.scales.map(\.bitPattern))
            XCTAssertEqual(quantized[0].scaledSums.map(\.bitPattern), other.scaledSums.map(\.bitPattern))
        }
        XCTAssertEqual(Array(quantized[0].codes[(3 * 64)..<(3 * 64 + 32)]), [Int8](repeating: 0, count: 32))
        XCTAssertTrue(quantized[0].scales[2].isNaN && quantized[0].scales[5].isNaN)

        let finiteWeights = WeightMatrix(rows: 20, columns: 64, values: pseudoRandom(20 * 64, seed: 53), precision: .int8)
        var y = [Float](repeating: 0, count: 4 * 20)
        Linear.forward(out: &y, inp: x, weight: finiteWeights, bias: nil, rows: 4)
        for t in 0..<4 {
            let row = y[(t * 20)..<((t + 1) * 20)]
            XCTAssertEqual(row.allSatisfy(\.isNaN), t == 1 || t == 2, "token \(t)")
            XCTAssertEqual(row.contains(where: \.isNaN), t == 1 || t == 2, "token \(t)")
        }
    }
}
