import Foundation
import Cluster

/// Runs `body` once per rank, each on its own thread (collectives block until every rank calls them, so the ranks
/// must run at the same time whatever the core count), and returns each rank's result in rank order.
func runRanks<T>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, Error>] {
    let results = RankResults<T>(count: count)
    let finished = DispatchGroup()
    for rank in 0..<count {
        finished.enter()
        let thread = Thread {
            results.set(rank, Result { try body(rank) })
            finished.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    finished.wait()
    return results.values.map { $0! }
}

private final class RankResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<T, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ rank: Int, _ value: Result<T, Error>) {
        lock.lock()
        values[rank] = value
        lock.unlock()
    }
}

/// A fresh rendezvous folder, removed when the test ends.
func rendezvousFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("torl-rendezvous-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}
