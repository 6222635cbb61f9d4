import CBLAS
import CKernels
import Foundation
import Synchronization

/// Splits kernel work across the cores with persistent worker threads (one per extra core).
///
/// Workers spin briefly between jobs before sleeping: a decode step issues a few hundred short kernel calls,
/// and waking a sleeping thread for each (as a dispatch pool does) costs more than the work on a busy machine.
/// This is the only pool: OpenBLAS is switched to one thread per call and GEMMs are split here by output rows.
/// With OpenBLAS's own threads as well, its idle workers spin (sched_yield) while ours compute, and the two
/// pools fight over the cores.
public enum ComputePool {
    /// Threads that work on one kernel call: the caller plus one worker per extra processor.
    public static var workerCount: Int { pool.threadCount }

    /// Threads: TORL_THREADS when set to a positive number, else the processors this process may use.
    static let pool: WorkerPool = {
        openblas_set_num_threads(1)
        let requested = ProcessInfo.processInfo.environment["TORL_THREADS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        return WorkerPool(threadCount: requested ?? max(1, ProcessInfo.processInfo.activeProcessorCount))
    }()

    /// When set, work is cut into tasks as if this many threads ran (the pool still runs them): tests check that no
    /// result depends on how the work was cut, for thread counts this machine does not have.
    /// 0: the pool's own thread count.
    private static let plannedThreads = Atomic<Int>(0)

    /// Runs `body` with work cut into tasks as for `threads` threads.
    public static func withTasksPlanned<T>(forThreads threads: Int, _ body: () throws -> T) rethrows -> T {
        plannedThreads.store(max(1, threads), ordering: .relaxed)
        defer { plannedThreads.store(0, ordering: .relaxed) }
        return try body()
    }

    /// Calls `body` on disjoint ranges covering 0..<count, in parallel. Ranges hold at least `grain` items (except
    /// a short last one), at most `maximumChunk`, and start at multiples of `alignment`.
    /// `body` is escaping only because worker threads hold it while they run; it never outlives the call.
    public static func parallelFor(_ count: Int, grain: Int = 1, alignment: Int = 1, maximumChunk: Int = .max,
                                   _ body: @escaping (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let planned = plannedThreads.load(ordering: .relaxed)
        let threads = planned > 0 ? planned : workerCount
        let maxTasks = max(1, count / max(grain, 1))
        // A few tasks per thread balance the load when tasks finish at different times.
        var tasks = min(maxTasks, threads == 1 ? 1 : threads * 4)
        tasks = max(tasks, count / maximumChunk + (count % maximumChunk == 0 ? 0 : 1))
        if tasks == 1 { body(0..<count); return }
        var chunk = (count + tasks - 1) / tasks
        chunk = (chunk + alignment - 1) / alignment * alignment
        let taskCount = (count + chunk - 1) / chunk
        pool.run(taskCount) { task in
            let start = task * chunk
            body(start..<min(count, start + chunk))
        }
    }
}

/// The caller plus `threadCount - 1` persistent threads sharing the tasks of one job at a time.
/// Jobs come from one thread at a time (the model's owner); `callerLock` serializes accidental concurrent callers.
final class WorkerPool: @unchecked Sendable {
    let threadCount: Int
    /// Polls before a waiting thread blocks (~100 µs): long enough to bridge the gaps between the kernel calls of
    /// a decode step, short enough not to hold a core the machine needs for something else.
    private static let spinLimit = 4_000

    /// Bumped for every job; workers poll it.
    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    /// Workers holding the current job's closure; the caller waits for them before the closure goes away.
    private let inside = Atomic<Int>(0)
    // Guarded by `state`: the job on offer.
    private let state = NSCondition()
    private var accepting = false
    private var taskCount = 0
    private var body: ((Int) -> Void)?
    private let callerLock = NSLock()

    init(threadCount: Int) {
        self.threadCount = threadCount
        for _ in 1..<max(threadCount, 1) {
            let thread = Thread { [unowned self] in self.workerLoop() }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func run(_ tasks: Int, _ job: @escaping (Int) -> Void) {
        callerLock.lock()
        defer { callerLock.unlock() }
        do {
            state.lock()
            body = job
            taskCount = tasks
            nextTask.store(0, ordering: .sequentiallyConsistent)
            unfinished.store(tasks, ordering: .sequentiallyConsistent)
            accepting = true
            generation.add(1, ordering: .sequentiallyConsistent)
            state.broadcast()
            state.unlock()

            work(job, taskCount: tasks)

            // Every task is claimed: stop offering the job, then wait for the workers still running tasks.
            state.lock()
            accepting = false
            body = nil
            state.unlock()
            var spins = 0
            while !jobFinished && spins < Self.spinLimit {
                spins += 1
                torl_cpu_relax()
            }
            // A worker preempted mid-task may need this core: block instead of spinning.
            state.lock()
            while !jobFinished { state.wait() }
            state.unlock()
        }
    }

    private var jobFinished: Bool {
        unfinished.load(ordering: .sequentiallyConsistent) == 0 && inside.load(ordering: .sequentiallyConsistent) == 0
    }

    /// Claims and runs tasks of the current job until none are left.
    private func work(_ job: (Int) -> Void, taskCount: Int) {
        while true {
            let task = nextTask.add(1, ordering: .sequentiallyConsistent).oldValue
            guard task < taskCount else { return }
            job(task)
            unfinished.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .sequentiallyConsistent) == seen && spins < Self.spinLimit {
                spins += 1
                torl_cpu_relax()
            }
            state.lock()
            while generation.load(ordering: .sequentiallyConsistent) == seen { state.wait() }
            seen = generation.load(ordering: .sequentiallyConsistent)
            var job = accepting ? body : nil
            let count = taskCount
            if job != nil { inside.add(1, ordering: .sequentiallyConsistent) }
            state.unlock()
            if let claimed = job {
                job = nil
                work(claimed, taskCount: count)
                state.lock()
                inside.subtract(1, ordering: .sequentiallyConsistent)
                state.broadcast()
                state.unlock()
            }
        }
    }
}
