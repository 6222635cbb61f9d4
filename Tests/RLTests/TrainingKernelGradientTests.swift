import Tensors
import XCTest

/// Every forward/backward kernel pair against central finite differences of loss = Σ forward(x) · R.
final class TrainingKernelGradientTests: XCTestCase {
    func testEmbeddingScattersGradientsToRepeatedTokens() {
        var generator = SeededGenerator(seed: 1)
        let vocabulary = 7, channels = 5
        let tokens: [Int32] = [3, 1, 3, 6, 0, 3]
        let table = GradientCheck.randomBuffer(vocabulary * channels, &generator)
        let weights = GradientCheck.randomBuffer(tokens.count * channels, &generator)
        let out = FloatBuffer(count: tokens.count * channels)
        func loss() -> Double {
            Embedding.forward(out: out.pointer, table: table.pointer, tokens: tokens, rows: tokens.count,
                              channels: channels)
            return GradientCheck.dot(out, weights)
        }
        let dTable = FloatBuffer(count: table.count)
        Embedding.backward(dTable: dTable.pointer, dOut: weights.pointer, tokens: tokens, rows: tokens.count,
                                  channels: channels)
        GradientCheck.assertMatches("embedding", parameter: table, analytic: dTable, loss: loss)
        // Token 3 appears three times: its row collects the three rows of dOut.
        XCTAssertEqual(dTable[3 * channels], weights[0] + weights[2 * channels] + weights[5 * channels], accuracy: 1e-6)
        XCTAssertEqual(dTable[2 * channels], 0)
    }

    func testRMSNorm() {
        var generator = SeededGenerator(seed: 2)
        let rows = 4, channels = 8
        let x = GradientCheck.randomBuffer(rows * channels, &generator, scale: 2)
        let weight = GradientCheck.randomBuffer(channels, &generator)
        let weights = GradientCheck.randomBuffer(rows * channels, &generator)
        let y = FloatBuffer(count: rows * channels), rms = FloatBuffer(count: rows)
        func loss() -> Double {
            RMSNorm.forward(y: y.pointer, reciprocalRMS: rms.pointer, x: x.pointer, weight: weight.pointer,
                                   rows: rows, channels: channels, epsilon: 1e-5)
            return GradientCheck.dot(y, weights)
        }
        _ = loss()
        let dx = FloatBuffer(count: x.count), dWeight = FloatBuffer(count: channels)
        RMSNorm.backward(dx: dx.pointer, dWeight: dWeight.pointer, dy: weights.pointer, x: x.pointer,
                                weight: weight.pointer, reciprocalRMS: rms.pointer, rows: rows, channels: channels)
        GradientCheck.assertMatches("rmsnorm dx", parameter: x, analytic: dx, loss: loss)
        GradientCheck.assertMatches("rmsnorm dweight", parameter: weight, analytic: dWeight, loss: loss)
    }

    func testLinearWithAndWithoutBias() {
        for withBias in [false, true] {
            var generator = SeededGenerator(seed: 3)
            let rows = 5, inFeatures = 6, outFeatures = 4
            let x = GradientCheck.randomBuffer(rows * inFeatures, &generator)
            let weight = GradientCheck.randomBuffer(outFeatures * inFeatures, &generator)
            let bias = GradientCheck.randomBuffer(outFeatures, &generator)
            let weights = GradientCheck.randomBuffer(rows * outFeatures, &generator)
            let y = FloatBuffer(count: rows * outFeatures)
            func loss() -> Double {
                Linear.forward(y: y.pointer, x: x.pointer, weight: weight.pointer,
                                      bias: withBias ? UnsafePointer(bias.pointer) : nil, rows: rows,
                                      inFeatures: inFeatures, outFeatures: outFeatures)
                return GradientCheck.dot(y, weights)
            }
            let dx = FloatBuffer(count: x.count), dWeight = FloatBuffer(count: weight.count)
            let dBias = FloatBuffer(count: outFeatures)
            Linear.backward(dx: dx.pointer, dWeight: dWeight.pointer, dBias: withBias ? dBias.pointer : nil,
                                   dy: weights.pointer, x: x.pointer, weight: weight.pointer, rows: rows,
                                   inFeatures: inFeatures, outFeatures: outFeatures)
            GradientCheck.assertMatches("linear dx", parameter: x, analytic: dx, loss: loss)
            GradientCheck.assertMatches("linear dweight", parameter: weight, analytic: dWeight, loss: loss)
            if withBias { GradientCheck.assertMatches("linear dbias", parameter: bias, analytic: dBias, loss: loss) }
        }
    }

    func testRoPEBothPairings() {
        for adjacent in [false, true] {
            var generator = SeededGenerator(seed: 4)
            let rows = 5, heads = 2, d = 8
            let table = RoPE.Table(positions: [0, 3, 1, 9, 15], headDimension: d, theta: 10000)
            let pairing: RoPE.Pairing = adjacent ? .adjacent : .halves
            let x = GradientCheck.randomBuffer(rows * heads * d, &generator)
            let weights = GradientCheck.randomBuffer(x.count, &generator)
            let y = FloatBuffer(count: x.count)
            func loss() -> Double {
                y.copy(from: x)
                RoPE.forward(y.pointer, table: table, rows: rows, heads: heads, pairing: pairing)
                return GradientCheck.dot(y, weights)
            }
            let dx = weights.copy()
            RoPE.backward(dx.pointer, inverseTable: table.inverse, rows: rows, heads: heads, pairing: pairing)
            GradientCheck.assertMatches("rope adjacent=\(adjacent)", parameter: x, analytic: dx, loss: loss)
            // Position 0 is the identity; a rotation keeps each pair's norm.
            _ = loss()
            for c in 0..<(heads * d) { XCTAssertEqual(y[c], x[c], accuracy: 1e-6) }
            let pairOf = { (i: Int) in adjacent ? (2 * i, 2 * i + 1) : (i, i + d / 2) }
            for i in 0..<(d / 2) {
                let (a, b) = pairOf(i)
                let base = 3 * heads * d
                XCTAssertEqual(y[base + a] * y[base + a] + y[base + b] * y[base + b],
                               x[base + a] * x[base + a] + x[base + b] * x[base + b], accuracy: 1e-5)
            }
        }
    }

    func testCausalGroupedQueryAttentionAcrossRowBlocks() {
        // 131 rows spans two row blocks of 128, so the blocked causal path is exercised.
        for length in [7, Attention.causalBlockRows + 3] {
            var generator = SeededGenerator(seed: 5)
            let shape = Attention.CausalShape(length: length, heads: 4, keyValueHeads: 2, headDimension: 4)
            let q = GradientCheck.randomBuffer(length * 16, &generator)
            let k = GradientCheck.randomBuffer(length * 8, &generator)
            let v = GradientCheck.randomBuffer(length * 8, &generator)
            let weights = GradientCheck.randomBuffer(length * 16, &generator)
            let out = FloatBuffer(count: length * 16), lse = FloatBuffer(count: 4 * length)
            func loss() -> Double {
                Attention.causalForward(out: out.pointer, logSumExp: lse.pointer, q: q.pointer, k: k.pointer,
                                         v: v.pointer, shape: shape)
                return GradientCheck.dot(out, weights)
            }
            _ = loss()
            // Row 0 attends only to itself: its output is v of its key/value head.
            for head in 0..<4 {
                for c in 0..<4 { XCTAssertEqual(out[head * 4 + c], v[(head / 2) * 4 + c], accuracy: 1e-6) }
            }
            let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
            Attention.causalBackward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dOut: weights.pointer,
                                      out: out.pointer, logSumExp: lse.pointer, q: q.pointer, k: k.pointer,
                                      v: v.pointer, shape: shape)
            let sample = length > 20 ? Array(stride(from: 0, to: length * 8, by: 7)) : nil
            GradientCheck.assertMatches("attention dq T=\(length)", parameter: q, analytic: dq,
                                        indices: sample.map { $0.map { $0 * 2 } }, loss: loss)
            GradientCheck.assertMatches("attention dk T=\(length)", parameter: k, analytic: dk, indices: sample,
                                        loss: loss)
            GradientCheck.assertMatches("attention dv T=\(length)", parameter: v, analytic: dv, indices: sample,
                                        loss: loss)
            // Causality: the last key/value row influences only the last query row.
            let lastKeyRow = (length - 1) * 8
            let before = out.copy()
            v[lastKeyRow] += 1
            _ = loss()
            for i in 0..<((length - 1) * 16) { XCTAssertEqual(out[i], before[i]) }
        }
    }

    func testSwiGLUOnFusedGateUpRows() {
        var generator = SeededGenerator(seed: 6)
        let rows = 3, features = 4
        let gateUp = GradientCheck.randomBuffer(rows * 2 * features, &generator, scale: 3)
        let weights = GradientCheck.randomBuffer(rows * features, &generator)
        let h = FloatBuffer(count: rows * features)
        func loss() -> Double {
            SwiGLU.forward(out: h.pointer, gateUp: gateUp.pointer, rows: rows, features: features)
            return GradientCheck.dot(h, weights)
        }
        let dGateUp = FloatBuffer(count: gateUp.count)
        SwiGLU.backward(dGateUp: dGateUp.pointer, dh: weights.pointer, gateUp: gateUp.pointer, rows: rows,
                        features: features)
        GradientCheck.assertMatches("swiglu dgate/dup", parameter: gateUp, analytic: dGateUp, loss: loss)
    }

    func testGeGLUOnFusedGateUpRows() {
        var generator = SeededGenerator(seed: 16)
        let rows = 3, features = 5
        let gateUp = GradientCheck.randomBuffer(rows * 2 * features, &generator, scale: 3)
        let weights = GradientCheck.randomBuffer(rows * features, &generator)
        let h = FloatBuffer(count: rows * features)
        func loss() -> Double {
            GeGLU.forward(out: h.pointer, gateUp: gateUp.pointer, rows: rows, features: features)
            return GradientCheck.dot(h, weights)
        }
        let dGateUp = FloatBuffer(count: gateUp.count)
        GeGLU.backward(dGateUp: dGateUp.pointer, dh: weights.pointer, gateUp: gateUp.pointer, rows: rows,
                       features: features)
        GradientCheck.assertMatches("geglu dgate/dup", parameter: gateUp, analytic: dGateUp, loss: loss)
    }

    /// Sliding-window attention (Gemma 3): gradients, the band (a key further back than the window changes
    /// nothing), and the forward pass equal to the engine's windowed block attention.
    func testSlidingWindowAttention() {
        for (length, window) in [(9, 3), (Attention.causalBlockRows + 5, 40)] {
            var generator = SeededGenerator(seed: 17)
            let shape = Attention.CausalShape(length: length, heads: 4, keyValueHeads: 2, headDimension: 4, window: window)
            let q = GradientCheck.randomBuffer(length * 16, &generator)
            let k = GradientCheck.randomBuffer(length * 8, &generator)
            let v = GradientCheck.randomBuffer(length * 8, &generator)
            let weights = GradientCheck.randomBuffer(length * 16, &generator)
            let out = FloatBuffer(count: length * 16), lse = FloatBuffer(count: 4 * length)
            func loss() -> Double {
                Attention.causalForward(out: out.pointer, logSumExp: lse.pointer, q: q.pointer, k: k.pointer,
                                        v: v.pointer, shape: shape)
                return GradientCheck.dot(out, weights)
            }
            _ = loss()
            let engine = FloatBuffer(count: length * 16)
            for head in 0..<4 {
                Attention.forwardBlock(out: engine.pointer + head * 4, outStride: 16, query: q.pointer + head * 4,
                                       queryStride: 16, keys: UnsafeRawPointer(k.pointer + (head / 2) * 4),
                                       values: UnsafeRawPointer(v.pointer + (head / 2) * 4), kvStride: 8, start: 0,
                                       rows: length, headDimension: 4, window: window)
            }
            for i in 0..<(length * 16) { XCTAssertEqual(engine[i], out[i], accuracy: 1e-5, "engine vs training at \(i)") }
            let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
            Attention.causalBackward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dOut: weights.pointer,
                                     out: out.pointer, logSumExp: lse.pointer, q: q.pointer, k: k.pointer,
                                     v: v.pointer, shape: shape)
            let sample = length > 20 ? Array(stride(from: 0, to: length * 8, by: 7)) : nil
            GradientCheck.assertMatches("window attention dq T=\(length)", parameter: q, analytic: dq,
                                        indices: sample.map { $0.map { $0 * 2 } }, loss: loss)
            GradientCheck.assertMatches("window attention dk T=\(length)", parameter: k, analytic: dk, indices: sample,
                                        loss: loss)
            GradientCheck.assertMatches("window attention dv T=\(length)", parameter: v, analytic: dv, indices: sample,
                                        loss: loss)
            // Key row 0 is outside the window of every row from `window` on.
            _ = loss()
            let before = out.copy()
            v[0] += 1
            _ = loss()
            for i in (window * 16)..<(length * 16) { XCTAssertEqual(out[i], before[i]) }
            XCTAssertNotEqual(out[0], before[0])
        }
    }

    func testTokenLogProbabilityAndEntropyWithTemperature() {
        var generator = SeededGenerator(seed: 7)
        let rows = 3, vocabulary = 11
        let temperature: Float = 0.7
        let logits = GradientCheck.randomBuffer(rows * vocabulary, &generator, scale: 3)
        let targets: [Int32] = [4, 0, 10]
        let dLogP: [Float] = [0.5, -1.25, 2]
        let dEntropy: [Float] = [0.3, 0.7, -0.4]
        var logP = [Float](repeating: 0, count: rows), entropy = logP, lse = logP
        func loss() -> Double {
            LogSoftmax.tokenStatistics(logProbs: &logP, entropies: &entropy, logSumExps: &lse,
                                               logits: logits.pointer, targets: targets, rows: rows,
                                               vocabulary: vocabulary, temperature: temperature)
            return (0..<rows).reduce(0.0) { $0 + Double(dLogP[$1] * logP[$1] + dEntropy[$1] * entropy[$1]) }
        }
        _ = loss()
        // Direct formulas in Double for row 0.
        let u = (0..<vocabulary).map { Double(logits[$0]) / Double(temperature) }
        let z = u.map { Foundation.exp($0) }.reduce(0, +)
        let p = u.map { Foundation.exp($0) / z }
        XCTAssertEqual(Double(logP[0]), Foundation.log(p[4]), accuracy: 1e-5)
        XCTAssertEqual(Double(entropy[0]), -p.reduce(0) { $0 + $1 * Foundation.log($1) }, accuracy: 1e-5)
        let gradients = logits.copy()
        LogSoftmax.tokenStatisticsBackward(logitsToGradients: gradients.pointer, targets: targets, logSumExps: lse,
                                            entropies: entropy, dLogProbs: dLogP, dEntropies: dEntropy, rows: rows,
                                            vocabulary: vocabulary, temperature: temperature)
        GradientCheck.assertMatches("log-softmax/entropy dlogits", parameter: logits, analytic: gradients, loss: loss)
    }
}
