import Foundation

/// Rotary position embedding applied in place to the heads of q or k rows.
public enum RoPE {
    /// Which dimensions of a head rotate together: (i, i + D/2) for `halves` (Hugging Face, NeoX), (2i, 2i + 1)
    /// for `adjacent` (llama.cpp's permuted Llama weights). Dimension pair i turns by pos · theta^(-2i/D).
    public enum Pairing: Sendable { case halves, adjacent }

    /// The rotation of each row: cos and sin, each [T, D/2]. Angles in double precision, so long positions keep
    /// their accuracy.
    public struct Table {
        public let halfDimension: Int
        public var cosines: [Float]
        public var sines: [Float]

        public init(positions: [Int], headDimension D: Int, theta: Double) {
            halfDimension = D / 2
            let inverseFrequencies = (0..<halfDimension).map { pow(theta, -2.0 * Double($0) / Double(D)) }
            cosines = []
            sines = []
            cosines.reserveCapacity(positions.count * halfDimension)
            sines.reserveCapacity(positions.count * halfDimension)
            for position in positions {
                for frequency in inverseFrequencies {
                    let angle = Double(position) * frequency
                    cosines.append(Float(cos(angle)))
                    sines.append(Float(sin(angle)))
                }
            }
        }
    }

    /// One row: x: [heads * D] in place, rotated by row `row` of `table`.
    public static func forward(_ x: UnsafeMutablePointer<Float>, table: Table, row: Int, heads: Int, pairing: Pairing) {
        let half = table.halfDimension, D = 2 * half
        table.cosines.withUnsafeBufferPointer { cosines in
            table.sines.withUnsafeBufferPointer { sines in
                let cosRow = cosines.baseAddress! + row * half, sinRow = sines.baseAddress! + row * half
                for h in 0..<heads {
                    let head = x + h * D
                    for i in 0..<half {
                        let (a, b) = pairing == .halves ? (i, i + half) : (2 * i, 2 * i + 1)
                        let x0 = head[a], x1 = head[b]
                        head[a] = x0 * cosRow[i] - x1 * sinRow[i]
                        head[b] = x0 * sinRow[i] + x1 * cosRow[i]
                    }
                }
            }
        }
    }
}
