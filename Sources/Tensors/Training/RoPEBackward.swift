/// Backward of the engine's `RoPE.forward`: a rotation's transpose is the rotation by the opposite angle.
extension RoPE.Table {
    /// The table rotating every row back (sines negated).
    public var inverse: RoPE.Table {
        var result = self
        result.sines = sines.map { -$0 }
        return result
    }
}

extension RoPE {
    /// `inverseTable` is `table.inverse` of the forward's table (made once per pass, not per row).
    // dx: [T, heads · D] in place: gradient w.r.t. the pre-rotation input
    public static func backward(_ dx: UnsafeMutablePointer<Float>, inverseTable: Table, rows T: Int, heads: Int,
                                pairing: Pairing) {
        let width = heads * 2 * inverseTable.halfDimension
        for t in 0..<T { forward(dx + t * width, table: inverseTable, row: t, heads: heads, pairing: pairing) }
    }

    /// All rows of x: [T, heads · D] rotated by the rows of `table`.
    public static func forward(_ x: UnsafeMutablePointer<Float>, table: Table, rows T: Int, heads: Int,
                               pairing: Pairing) {
        let width = heads * 2 * table.halfDimension
        for t in 0..<T { forward(x + t * width, table: table, row: t, heads: heads, pairing: pairing) }
    }
}
