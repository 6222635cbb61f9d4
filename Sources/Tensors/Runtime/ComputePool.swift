import Dispatch
import Foundation

/// Splits kernel work across the cores. Backed by the dispatch worker pool, whose threads persist between calls,
/// so a split costs a wake-up, not a thread creation. Kernels never overlap OpenBLAS calls (each runs to
/// completion before the next starts), so the two pools do not oversubscribe the cores.
public enum ComputePool {
    /// Workers one kernel call is split into: the processors this process may use.
    public static let workerCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on disjoint ranges covering 0..<count, in parallel. Each range holds at least `grain`
    /// items (except a short last one) and starts at a multiple of `alignment`.
    public static func parallelFor(_ count: Int, grain: Int = 1, alignment: Int = 1,
                                   _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let maxTasks = max(1, count / max(grain, 1))
        // A few tasks per worker balance the load when tasks finish at different times.
        let tasks = min(maxTasks, workerCount == 1 ? 1 : workerCount * 4)
        if tasks == 1 { body(0..<count); return }
        var chunk = (count + tasks - 1) / tasks
        chunk = (chunk + alignment - 1) / alignment * alignment
        let taskCount = (count + chunk - 1) / chunk
        DispatchQueue.concurrentPerform(iterations: taskCount) { task in
            let start = task * chunk
            body(start..<min(count, start + chunk))
        }
    }
}
