import Foundation

/// Rotary position embedding. Pair i of a head (i < d/2) rotates by angle position · θ^(−2i/d). Which two
/// dimensions form pair i depends on the checkpoint convention: (i, i + d/2) ("halves", Hugging Face / NeoX)
/// or (2i, 2i + 1) ("adjacent", llama.cpp's permuted Llama weights).
public struct RoPETable: Sendable {
    public let headDimension: Int
    public let positions: Int
    /// cos/sin: [positions, headDimension / 2]
    public let cosines: [Float]
    public let sines: [Float]

    public init(headDimension: Int, positions: Int, theta: Double) {
        self.headDimension = headDimension
        self.positions = positions
        let half = headDimension / 2
        var cosines = [Float](repeating: 0, count: positions * half)
        var sines = [Float](repeating: 0, count: positions * half)
        for position in 0..<positions {
            for i in 0..<half {
                // Angles in Double: position · frequency loses digits in Float at long contexts.
                let angle = Double(position) * pow(theta, -2 * Double(i) / Double(headDimension))
                cosines[position * half + i] = Float(cos(angle))
                sines[position * half + i] = Float(sin(angle))
            }
        }
        self.cosines = cosines
        self.sines = sines
    }
}

public enum RoPEKernels {
    /// Rotates x in place; the rotation direction is +1 for the forward pass and −1 for its backward (the
    /// transpose of a rotation is the rotation by the opposite angle).
    // x: [rows, heads, headDimension], positions: [rows] (each < table.positions)
    public static func rotate(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>, rows: Int,
                              heads: Int, table: RoPETable, adjacentPairs: Bool, direction: Float) {
        let d = table.headDimension
        let half = d / 2
        table.cosines.withUnsafeBufferPointer { cosines in
            table.sines.withUnsafeBufferPointer { sines in
                for row in 0..<rows {
                    let angleBase = Int(positions[row]) * half
                    for head in 0..<heads {
                        let v = x + (row * heads + head) * d
                        for i in 0..<half {
                            let c = cosines[angleBase + i]
                            let s = sines[angleBase + i] * direction
                            let first = adjacentPairs ? 2 * i : i
                            let second = adjacentPairs ? 2 * i + 1 : i + half
                            let a = v[first], b = v[second]
                            v[first] = a * c - b * s
                            v[second] = a * s + b * c
                        }
                    }
                }
            }
        }
    }

    // x: [rows, heads, headDimension] rotated in place
    public static func forward(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>, rows: Int,
                               heads: Int, table: RoPETable, adjacentPairs: Bool) {
        rotate(x, positions: positions, rows: rows, heads: heads, table: table, adjacentPairs: adjacentPairs,
               direction: 1)
    }

    // dx: [rows, heads, headDimension] rotated back in place (gradient w.r.t. the pre-rotation input)
    public static func backward(_ dx: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>, rows: Int,
                                heads: Int, table: RoPETable, adjacentPairs: Bool) {
        rotate(dx, positions: positions, rows: rows, heads: heads, table: table, adjacentPairs: adjacentPairs,
               direction: -1)
    }
}
