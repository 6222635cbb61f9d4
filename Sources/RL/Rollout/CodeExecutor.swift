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

    /// At least one delivery; suspends until one arrives. One waiter at a time (the decode loop).
    func next() async -> [Delivery] {
        await withCheckedContinuation { continuation in
            lock.lock()
            if delivered.isEmpty {
                waiter = continuation
                lock.unlock()
            } else {
                let ready = delivered
                delivered.removeAll()
                lock.unlock()
                continuation.resume(returning: ready)
            }
        }
    }
}
