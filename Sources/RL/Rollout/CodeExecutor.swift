import Foundation
import Sandbox

/// Runs model code: the sandbox pool in production; anything with the same contract in tests.
public protocol CodeExecutor: Sendable {
    func execute(_ code: String, limits: ExecutionLimits?) async -> ExecutionResult
}

extension SandboxPool: CodeExecutor {}

/// Finished tool calls on their way back to the decode loop: sandbox tasks deliver from any thread, the loop
/// takes them between decoder steps, or suspends here when no stream can step.
final class ExecutionInbox: @unchecked Sendable {
    struct Delivery {
        var stream: Int
        var result: ExecutionResult
    }

    private let lock = NSLock()
    private var delivered: [Delivery] = []
    private var waiter: CheckedContinuation<[Delivery], Never>?
    /// Tells a timer which wait it was set for, so a late timer never wakes a later wait.
    private var waitNumber = 0

    func deliver(_ delivery: Delivery) {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(returning: [delivery])
        } else {
            delivered.append(delivery)
            lock.unlock()
        }
    }

    /// Everything delivered so far, without waiting.
    func takeAll() -> [Delivery] {
        lock.withLock {
            defer { delivered.removeAll() }
            return delivered
        }
    }

    /// The deliveries so far, waiting for the first one at most `timeout` seconds and no longer than the calling
    /// task stays uncancelled: empty when woken without one. The bound lets the loop see cancellations that no
    /// tool result would announce (a requester gone while every stream waits on a long call). One waiter at a
    /// time (the decode loop).
    func next(waitingAtMost timeout: Double) async -> [Delivery] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                lock.lock()
                if !delivered.isEmpty || Task.isCancelled {
                    let ready = delivered
                    delivered.removeAll()
                    lock.unlock()
                    return continuation.resume(returning: ready)
                }
                waiter = continuation
                waitNumber += 1
                let number = waitNumber
                lock.unlock()
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak self] in
                    self?.wakeWaiter(ifWaiting: number)
                }
            }
        } onCancel: {
            wakeWaiter(ifWaiting: nil)
        }
    }

    /// Resumes the waiting loop with nothing: wait `number` only, or whichever wait is on (nil).
    private func wakeWaiter(ifWaiting number: Int?) {
        lock.lock()
        guard let waiter, number == nil || number == waitNumber else { return lock.unlock() }
        self.waiter = nil
        lock.unlock()
        waiter.resume(returning: [])
    }
}
