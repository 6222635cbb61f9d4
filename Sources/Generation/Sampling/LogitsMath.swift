import Foundation

/// Reductions over one row of logits ([vocabularySize] floats). Max and scaling run on SIMD lanes; `exp` is the
/// C library's (correctly rounded to within an ulp), so log-probabilities match an independent recomputation.
enum LogitsMath {
    typealias Lanes = SIMD16<Float>

    /// The largest value, or nil if the row holds a NaN or is empty.
    static func maximum(_ values: UnsafeBufferPointer<Float>) -> Float? {
        guard !values.isEmpty else { return nil }
        var lanesMax = Lanes(repeating: -.infinity)
        var nanLanes = SIMDMask<Lanes.MaskStorage>(repeating: false)
        let laneCount = Lanes.scalarCount
        let wholeLanes = values.count / laneCount
        let raw = UnsafeRawPointer(values.baseAddress!)
        for block in 0..<wholeLanes {
            let lanes = raw.loadUnaligned(fromByteOffset: block * laneCount * 4, as: Lanes.self)
            lanesMax = pointwiseMax(lanesMax, lanes)
            nanLanes = nanLanes .| (lanes .!= lanes)
        }
        var result = lanesMax.max()
        var sawNaN = any(nanLanes)
        for index in (wholeLanes * laneCount)..<values.count {
            sawNaN = sawNaN || values[index].isNaN
            result = Swift.max(result, values[index])
        }
        return sawNaN ? nil : result
    }

    /// Index of the largest value; ties go to the lowest index.
    static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        var bestValue = values[0]
        for index in 1..<values.count where values[index] > bestValue {
            best = index
            bestValue = values[index]
        }
        return best
    }

    /// output[i] = (input[i] - shift) * scale; returns Σ exp(output[i]) accumulated in Double.
    /// With shift = max(input) every exponent is <= 0, so nothing overflows.
    static func shiftScaleAndSumExp(_ input: UnsafeBufferPointer<Float>, shift: Float, scale: Float,
                                    into output: UnsafeMutableBufferPointer<Float>) -> Double {
        let laneCount = Lanes.scalarCount
        let wholeLanes = input.count / laneCount
        let source = UnsafeRawPointer(input.baseAddress!)
        let destination = UnsafeMutableRawPointer(output.baseAddress!)
        let shiftLanes = Lanes(repeating: shift)
        let scaleLanes = Lanes(repeating: scale)
        for block in 0..<wholeLanes {
            let offset = block * laneCount * 4
            let lanes = source.loadUnaligned(fromByteOffset: offset, as: Lanes.self)
            destination.storeBytes(of: (lanes - shiftLanes) * scaleLanes, toByteOffset: offset, as: Lanes.self)
        }
        for index in (wholeLanes * laneCount)..<input.count {
            output[index] = (input[index] - shift) * scale
        }
        return sumExp(UnsafeBufferPointer(output))
    }

    /// Σ exp(values[i]) in Double (four partial sums keep the dependency chains short).
    static func sumExp(_ values: UnsafeBufferPointer<Float>) -> Double {
        var partial: (Double, Double, Double, Double) = (0, 0, 0, 0)
        let quads = values.count / 4
        for quad in 0..<quads {
            let base = quad * 4
            partial.0 += Double(expf(values[base]))
            partial.1 += Double(expf(values[base + 1]))
            partial.2 += Double(expf(values[base + 2]))
            partial.3 += Double(expf(values[base + 3]))
        }
        var total = (partial.0 + partial.1) + (partial.2 + partial.3)
        for index in (quads * 4)..<values.count { total += Double(expf(values[index])) }
        return total
    }

    /// Indices of `values` in descending order (ties: lower index first) forming a prefix of the full descending
    /// order that holds at least `minimumCount` entries (or all of them) and whose mass Σ exp(value) reaches
    /// `minimumMass`. `values` must have maximum 0 (shifted logits), so exp never overflows.
    ///
    /// Instead of sorting the whole vocabulary, it collects the entries above a threshold and lowers the threshold
    /// until the prefix is long enough; the entries above any threshold are always a prefix of the order.
    static func descendingPrefix(_ values: UnsafeBufferPointer<Float>, minimumCount: Int,
                                 minimumMass: Double) -> [Int32] {
        let wantedCount = Swift.min(minimumCount, values.count)
        var threshold: Float = -4
        var collected: [Int32] = []
        while true {
            collected.removeAll(keepingCapacity: true)
            var mass = 0.0
            for index in 0..<values.count where values[index] >= threshold {
                collected.append(Int32(index))
                mass += Double(expf(values[index]))
            }
            let enough = collected.count >= wantedCount && mass >= minimumMass
            if enough || threshold == -.infinity { break }
            threshold = threshold > -256 ? threshold * 4 : -.infinity
        }
        collected.sort { left, right in
            let leftValue = values[Int(left)], rightValue = values[Int(right)]
            return leftValue != rightValue ? leftValue > rightValue : left < right
        }
        return collected
    }
}
