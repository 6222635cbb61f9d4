import Foundation

/// One dedicated thread for numeric work (model loading, decoding, training), so the event loop and the
/// cooperative task pool never block on it. Jobs run one at a time in submission order: the model and its
/// KV cache have a single owner.
final class ComputeThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var thread: Thread?

    init(name: String) {
        let thread = Thread { [unowned self] in self.runLoop() }
        thread.name = name
        thread.stackSize = 16 << 20
        self.thread = thread
        thread.start()
    }

    /// Runs `work` on the compute thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try work() }) }
        }
    }

    func submit(_ job: @escaping () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets queued jobs finish, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// Async work that prefers this executor (model decoding inside a rollout) runs its synchronous stretches on the
/// compute thread; while it awaits the sandbox the thread is free for other jobs.
extension ComputeThread: TaskExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        submit { [unowned self] in job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
