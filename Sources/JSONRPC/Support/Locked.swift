import Foundation

/// A value shared between threads, only ever touched under its lock.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    @discardableResult
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    public var current: Value { withLock { $0 } }
}

/// Set once when a request is cancelled; for work that runs outside the request's Swift task (a compute thread,
/// a sandbox worker) and so cannot see `Task.isCancelled`.
public final class CancellationFlag: @unchecked Sendable {
    private let state = Locked(false)

    public init() {}

    public var isCancelled: Bool { state.current }

    public func cancel() {
        state.withLock { $0 = true }
    }
}
