import CGloo
import Foundation
import RL
import Tensors

/// Where the ranks of a process group find each other.
public enum RendezvousStore: Sendable, Equatable {
    /// A folder every rank can reach (a shared file system; on one machine, any folder).
    case folder(String)
    /// The driver's TCP store, "host:port" (protocol in docs/CLUSTER.md).
    case tcp(String)
}

public enum ProcessGroupError: Error, Equatable, CustomStringConvertible {
    case formation(String)
    case collective(String)

    public var description: String {
        switch self {
        case .formation(let message): return message
        case .collective(let message): return message
        }
    }
}

/// One rank's membership of a Gloo process group: a full TCP mesh to the other ranks, formed through a rendezvous
/// store under a prefix (a new prefix per attempt, so a group re-formed after a loss never meets stale entries).
///
/// Collectives block the calling thread until every rank has made the same call; the owner (the daemon's compute
/// thread) makes them one at a time.
public final class ProcessGroup: DataParallelGroup, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    public let prefix: String
    private let handle: OpaquePointer
    /// Time spent in collectives and bytes each rank contributed to them, since the group was formed: what a step
    /// pays for communication (read before and after it).
    public private(set) var traffic = Traffic()

    public struct Traffic: Sendable, Equatable {
        public var seconds = 0.0
        public var bytes = 0

        public static func - (after: Traffic, before: Traffic) -> Traffic {
            Traffic(seconds: after.seconds - before.seconds, bytes: after.bytes - before.bytes)
        }
    }

    /// Blocks until all `worldSize` ranks have joined under `prefix`, or throws after `timeoutSeconds`.
    /// `hostname` is the address the other ranks reach this one at.
    public init(store: RendezvousStore, prefix: String, rank: Int, worldSize: Int, hostname: String = "127.0.0.1",
                timeoutSeconds: Double = 60) throws {
        guard !prefix.isEmpty, !prefix.contains(where: \.isWhitespace) else {
            throw ProcessGroupError.formation("the group prefix must be non-empty and hold no whitespace")
        }
        let (kind, address): (torl_gloo_store_kind, String) = switch store {
        case .folder(let path): (TORL_GLOO_STORE_FILE, path)
        case .tcp(let hostPort): (TORL_GLOO_STORE_TCP, hostPort)
        }
        var error = [CChar](repeating: 0, count: 512)
        guard let handle = torl_gloo_connect(kind, address, prefix, Int32(rank), Int32(worldSize), hostname,
                                             timeoutSeconds, &error, error.count) else {
            throw ProcessGroupError.formation(String(cString: error))
        }
        self.handle = handle
        self.rank = rank
        self.worldSize = worldSize
        self.prefix = prefix
    }

    deinit { torl_gloo_close(handle) }

    public func allReduceSum(_ values: FloatBuffer) throws {
        try check(bytes: values.count * 4) { torl_gloo_allreduce_sum_f32(handle, values.pointer, values.count, $0, $1) }
    }

    public func allReduceSum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { buffer in
            try check(bytes: buffer.count * 8) { torl_gloo_allreduce_sum_f64(handle, buffer.baseAddress, buffer.count, $0, $1) }
        }
    }

    public func allReduceMaximum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { buffer in
            try check(bytes: buffer.count * 8) { torl_gloo_allreduce_max_f64(handle, buffer.baseAddress, buffer.count, $0, $1) }
        }
    }

    public func allReduceRange(_ value: UInt64) throws -> (minimum: UInt64, maximum: UInt64) {
        var minimum = value
        var maximum = value
        try check(bytes: 8) { torl_gloo_allreduce_min_u64(handle, &minimum, 1, $0, $1) }
        try check(bytes: 8) { torl_gloo_allreduce_max_u64(handle, &maximum, 1, $0, $1) }
        return (minimum, maximum)
    }

    private func check(bytes: Int, _ collective: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var error = [CChar](repeating: 0, count: 512)
        let started = DispatchTime.now().uptimeNanoseconds
        let status = error.withUnsafeMutableBufferPointer { collective($0.baseAddress!, $0.count) }
        traffic.seconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        traffic.bytes += bytes
        if status != 0 { throw ProcessGroupError.collective(String(cString: error)) }
    }
}
