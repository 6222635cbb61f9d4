import CUV
import Foundation

/// A libuv loop on its own thread: the daemon's RPC server, its clients and the sandbox pool each run one. Every uv
/// handle of a loop is created, used and closed on its thread; other threads hand it work through `execute`, which
/// appends to a locked queue and wakes the loop with a `uv_async_t` (the only uv call libuv allows from another
/// thread).
public final class EventLoop: @unchecked Sendable {
    public let raw: UnsafeMutablePointer<uv_loop_t>
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let queue = Locked<[() -> Void]>([])
    private let finished = DispatchSemaphore(value: 0)
    private let loopThreadID = Locked<pthread_t?>(nil)
    private let closed = Locked(false)

    private static let sharedLoop = Locked<EventLoop?>(nil)

    /// One loop shared by clients in this process (`torl status`, the bench): a thread per client is waste.
    public static func shared() throws -> EventLoop {
        try sharedLoop.withLock { existing in
            if let existing { return existing }
            let created = try EventLoop(name: "torl.rpc.client-loop")
            existing = created
            return created
        }
    }

    /// `receivesSignals` are unblocked on the loop thread, for loops that watch them: libuv learns that a child
    /// exited from SIGCHLD, and a parent may have started this process with signals blocked (Foundation's Process
    /// can); threads inherit the mask, so without this no exit would ever be seen and shutdown would hang.
    public init(name: String = "torl.rpc.loop", receivesSignals: [Int32] = []) throws {
        ProcessSignals.ignoreBrokenPipes()
        raw = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        wakeup = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
        let status = uv_loop_init(raw)
        guard status == 0 else {
            raw.deallocate()
            wakeup.deallocate()
            throw UVError(status, "uv_loop_init")
        }
        uv_async_init(raw, wakeup) { handle in
            guard let handle, let owner = handle.pointee.data else { return }
            Unmanaged<EventLoop>.fromOpaque(owner).takeUnretainedValue().drainQueue()
        }
        wakeup.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let thread = Thread { [self] in
            ProcessSignals.unblock(receivesSignals)
            loopThreadID.withLock { $0 = pthread_self() }
            uv_run(raw, UV_RUN_DEFAULT)
            drainQueue()
            uv_loop_close(raw)
            finished.signal()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    public var isOnLoopThread: Bool {
        guard let id = loopThreadID.current else { return false }
        return pthread_equal(id, pthread_self()) != 0
    }

    /// Runs `work` on the loop thread, soon. Work posted after `close()` is dropped (returns false).
    @discardableResult
    public func execute(_ work: @escaping () -> Void) -> Bool {
        let accepted = closed.withLock { isClosed -> Bool in
            guard !isClosed else { return false }
            queue.withLock { $0.append(work) }
            return true
        }
        if accepted { uv_async_send(wakeup) }
        return accepted
    }

    /// Runs `work` on the loop thread and waits for its result (at once when called on the loop thread).
    public func sync<T>(_ work: @escaping () throws -> T) throws -> T {
        if isOnLoopThread { return try work() }
        let result = Locked<Result<T, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let accepted = execute {
            result.withLock { $0 = Result { try work() } }
            done.signal()
        }
        guard accepted else { throw UVError(UV_ECANCELED.rawValue, "the event loop is closed") }
        done.wait()
        return try result.current!.get()
    }

    private func drainQueue() {
        while true {
            let batch = queue.withLock { pending -> [() -> Void] in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            if batch.isEmpty { return }
            for work in batch { work() }
        }
    }

    /// Stops accepting work, runs what was already queued and closes every handle still open; the loop thread
    /// ends once their close callbacks have run. Owners close their handles first; this is the backstop so the loop
    /// always ends. From another thread it waits for the loop thread to end; on the loop thread it returns at once.
    public func close() {
        let alreadyClosed = closed.withLock { isClosed -> Bool in
            defer { isClosed = true }
            return isClosed
        }
        if alreadyClosed { return }
        let closeEveryHandle = { [raw] in
            uv_walk(raw, { handle, _ in
                guard let handle, uv_is_closing(handle) == 0 else { return }
                uv_close(handle, nil)
            }, nil)
        }
        if isOnLoopThread {
            drainQueue()
            closeEveryHandle()
            return
        }
        queue.withLock { $0.append(closeEveryHandle) }
        uv_async_send(wakeup)
        finished.wait()
    }

    deinit {
        close()
        raw.deallocate()
        wakeup.deallocate()
    }
}

/// A libuv status code with the call that returned it.
public struct UVError: Error, CustomStringConvertible, Equatable {
    public var code: Int32
    public var operation: String

    public init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    public var description: String {
        "\(operation) failed: \(String(cString: uv_strerror(code))) (\(String(cString: uv_err_name(code))))"
    }
}

/// A libuv status code as "NAME (message)", for error texts that name the failing call themselves.
public func uvErrorName(_ code: Int32) -> String {
    guard let name = uv_err_name(code), let text = uv_strerror(code) else { return "error \(code)" }
    return "\(String(cString: name)) (\(String(cString: text)))"
}
