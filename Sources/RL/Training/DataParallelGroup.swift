import Tensors

/// The ranks of a synchronous data-parallel update: each holds the same policy, computes the gradient of its own
/// trajectories, and the group sums what must be global (token counts, the gradient, the loss sums) so every rank
/// takes the identical AdamW step. RL knows only this face; the Gloo process group (`Cluster`) implements it.
///
/// Every rank must make the same calls in the same order with the same counts; a call throws when a peer is lost
/// or times out, and the step it belongs to is then abandoned on every rank.
public protocol DataParallelGroup: AnyObject {
    var rank: Int { get }
    var worldSize: Int { get }
    /// In place: every rank ends with the element-wise sum over ranks, the same bits on each.
    func allReduceSum(_ values: FloatBuffer) throws
    func allReduceSum(_ values: inout [Double]) throws
    func allReduceMaximum(_ values: inout [Double]) throws
    /// The smallest and largest of the ranks' `value`s.
    func allReduceRange(_ value: UInt64) throws -> (minimum: UInt64, maximum: UInt64)
}

public enum DataParallelError: Error, Equatable, CustomStringConvertible {
    /// The ranks' parameters differ after an update that should have left them identical.
    case parametersDiverged(step: Int, minimum: UInt64, maximum: UInt64)

    public var description: String {
        switch self {
        case let .parametersDiverged(step, minimum, maximum):
            return "the ranks' parameters diverged at step \(step): checksums range from "
                + "\(ParameterChecksum.hex(minimum)) to \(ParameterChecksum.hex(maximum))"
        }
    }
}

/// An FNV-1a hash over the trained parameters' 32-bit words (the adapters when training LoRA: the frozen base cannot
/// diverge): ranks whose parameters are bit-identical get the same value,
/// and a single differing bit changes it.
public enum ParameterChecksum {
    public static func of(_ buffer: FloatBuffer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let words = UnsafeRawPointer(buffer.pointer).assumingMemoryBound(to: UInt32.self)
        for i in 0..<buffer.count {
            hash = (hash ^ UInt64(words[i])) &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    public static func hex(_ checksum: UInt64) -> String {
        let digits = String(checksum, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
