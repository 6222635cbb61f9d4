import Foundation

/// Reductions over one row of logits ([vocabularySize] floats) on 8-lane SIMD vectors, with a polynomial `exp`.
/// (Measured on this machine: the generic SIMD helpers `clamped`, `rounded` and integer conversions compile to
/// per-lane loops, so the kernels below stick to lane-wise arithmetic, comparisons and bit casts.)
enum LogitsMath {
    typealias Lanes = SIMD8<Float>
    private static let laneBytes = MemoryLayout<Lanes>.stride

    /// The largest value, or nil if the row holds a NaN or is empty.
    static func maximum(_ values: UnsafeBufferPointer<Float>) -> Float? {
        guard !values.isEmpty else { return nil }
        var lanesMax = Lanes(repeating: -.infinity)
        var nanLanes = SIMDMask<Lanes.MaskStorage>(repeating: false)
        let wholeBlocks = values.count / Lanes.scalarCount
        let raw = UnsafeRawPointer(values.baseAddress!)
        for block in 0..<wholeBlocks {
            let lanes = raw.loadUnaligned(fromByteOffset: block * laneBytes, as: Lanes.self)
            lanesMax.replace(with: lanes, where: lanes .> lanesMax)
            nanLanes = nanLanes .| (lanes .!= lanes)
        }
        var result = lanesMax.max()
        var sawNaN = any(nanLanes)
        for index in (wholeBlocks * Lanes.scalarCount)..<values.count {
            sawNaN = sawNaN || values[index].isNaN
            result = Swift.max(result, values[index])
        }
        return sawNaN ? nil : result
    }

    /// scaled[i] = (input[i] - shift) * scale and weights[i] = exp(scaled[i]); returns Σ weights in Double.
    /// With shift = max(input) every exponent is <= 0, so nothing overflows.
    static func shiftScaleExp(_ input: UnsafeBufferPointer<Float>, shift: Float, scale: Float,
                              scaled: UnsafeMutableBufferPointer<Float>,
                              weights: UnsafeMutableBufferPointer<Float>) -> Double {
        let wholeBlocks = input.count / Lanes.scalarCount
        let source = UnsafeRawPointer(input.baseAddress!)
        let scaledOut = UnsafeMutableRawPointer(scaled.baseAddress!)
        let weightsOut = UnsafeMutableRawPointer(weights.baseAddress!)
        let shiftLanes = Lanes(repeating: shift), scaleLanes = Lanes(repeating: scale)
        for block in 0..<wholeBlocks {
            let offset = block * laneBytes
            let lanes = (source.loadUnaligned(fromByteOffset: offset, as: Lanes.self) - shiftLanes) * scaleLanes
            scaledOut.storeBytes(of: lanes, toByteOffset: offset, as: Lanes.self)
            weightsOut.storeBytes(of: exp(lanes), toByteOffset: offset, as: Lanes.self)
        }
        for index in (wholeBlocks * Lanes.scalarCount)..<input.count {
            let value = (input[index] - shift) * scale
            scaled[index] = value
            weights[index] = exp(Lanes(repeating: value))[0]
        }
        return sum(UnsafeBufferPointer(weights))
    }

    /// Σ values in Double: blocks of 64 summed on eight Float lanes, blocks added in Double.
    static func sum(_ values: UnsafeBufferPointer<Float>) -> Double {
        let raw = UnsafeRawPointer(values.baseAddress!)
        let wholeBlocks = values.count / Lanes.scalarCount
        var total = 0.0
        var block = 0
        while block < wholeBlocks {
            let end = Swift.min(block + 8, wholeBlocks)
            var partial = Lanes(repeating: 0)
            while block < end {
                partial += raw.loadUnaligned(fromByteOffset: block * laneBytes, as: Lanes.self)
                block += 1
            }
            total += Double(partial.sum())
        }
        for index in (wholeBlocks * Lanes.scalarCount)..<values.count { total += Double(values[index]) }
        return total
    }

    /// exp on 8 lanes: Cephes `expf` range reduction and polynomial (within 2 ulp of the C library on [-87, 0]), the
    /// constants of the C kernels' Sources/CKernels/exp_polynomial.h, without fused multiply-adds (sampling's numbers
    /// stay what they were; the kernels round differently);
    /// exactly 0 below -87.33 and for -infinity, so masked tokens keep zero probability. Valid for x <= 88.
    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        let lowest = Lanes(repeating: -87.33)
        let clamped = pointwiseMax(x, lowest)
        // x = n·ln2 + r with |r| <= ln2 / 2. Adding 1.5·2^23 rounds x·log2(e) to the integer n and leaves n in
        // the low mantissa bits, from which 2^n is built; ln2 is split in two so that n·ln2 is exact.
        let magic = Lanes(repeating: 12_582_912)
        let shifted = clamped * Lanes(repeating: 1.442_695_04) + magic
        let n = shifted - magic
        let r = clamped - n * Lanes(repeating: 0.693_359_375) + n * Lanes(repeating: 2.121_944_4e-4)
        var p = Lanes(repeating: 1.987_569_15e-4)
        p = p * r + Lanes(repeating: 1.398_199_95e-3)
        p = p * r + Lanes(repeating: 8.333_451_9e-3)
        p = p * r + Lanes(repeating: 4.166_579_59e-2)
        p = p * r + Lanes(repeating: 1.666_666_55e-1)
        p = p * r + Lanes(repeating: 5.000_000_12e-1)
        let polynomial = p * (r * r) + r + Lanes(repeating: 1)
        let exponentBits = (unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- SIMD8(repeating: 0x4B40_0000 - 127))
            &<< SIMD8(repeating: 23)
        var result = polynomial * unsafeBitCast(exponentBits, to: Lanes.self)
        result.replace(with: 0, where: x .< lowest)
        return result
    }

    /// Indices of the `count` largest values, largest first (ties: lower index first). A bounded min-heap keeps
    /// it one pass over the row for the small counts top-k and top-logits use.
    static func largestIndices(_ values: UnsafeBufferPointer<Float>, count: Int) -> [Int32] {
        let kept = Swift.min(count, values.count)
        guard kept > 0 else { return [] }
        // precedes(a, b): a ranks below b (smaller value, or equal value and larger index).
        func ranksBelow(_ a: Int32, _ b: Int32) -> Bool {
            let valueA = values[Int(a)], valueB = values[Int(b)]
            return valueA != valueB ? valueA < valueB : a > b
        }
        var heap: [Int32] = []  // heap[0] is the lowest-ranked kept index
        heap.reserveCapacity(kept)
        func siftDown(from start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1, right = left + 1
                var lowest = parent
                if left < heap.count, ranksBelow(heap[left], heap[lowest]) { lowest = left }
                if right < heap.count, ranksBelow(heap[right], heap[lowest]) { lowest = right }
                if lowest == parent { return }
                heap.swapAt(parent, lowest)
                parent = lowest
            }
        }
        for index in 0..<values.count {
            let candidate = Int32(index)
            if heap.count < kept {
                heap.append(candidate)
                var child = heap.count - 1
                while child > 0, ranksBelow(heap[child], heap[(child - 1) / 2]) {
                    heap.swapAt(child, (child - 1) / 2)
                    child = (child - 1) / 2
                }
            } else if ranksBelow(heap[0], candidate) {
                heap[0] = candidate
                siftDown(from: 0)
            }
        }
        return heap.sorted { ranksBelow($1, $0) }
    }

    /// Indices in descending order of weight (ties: lower index first): the shortest prefix of that order whose
    /// weights sum to at least `mass` (or the whole row). Collects the entries above a threshold and lowers it
    /// until they hold enough mass: the entries above any threshold are a prefix of the order, so only they
    /// are sorted, not the whole vocabulary.
    static func descendingPrefix(_ weights: UnsafeBufferPointer<Float>, reachingMass mass: Double) -> [Int32] {
        var threshold: Float = 1.0 / 64
        var collected: [Int32] = []
        while true {
            collected.removeAll(keepingCapacity: true)
            var collectedMass = 0.0
            for index in 0..<weights.count where weights[index] >= threshold {
                collected.append(Int32(index))
                collectedMass += Double(weights[index])
            }
            if collectedMass >= mass || threshold == 0 { break }
            threshold = threshold > 1e-30 ? threshold / 64 : 0
        }
        collected.sort { left, right in
            let leftWeight = weights[Int(left)], rightWeight = weights[Int(right)]
            return leftWeight != rightWeight ? leftWeight > rightWeight : left < right
        }
        var cumulative = 0.0
        for (position, index) in collected.enumerated() {
            cumulative += Double(weights[Int(index)])
            if cumulative >= mass { return Array(collected[...position]) }
        }
        return collected
    }
}
