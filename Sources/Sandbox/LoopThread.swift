import CUV
import Foundation

/// A libuv loop running on its own thread. Other threads hand it work with `perform`; everything that
/// touches the loop's handles runs on that thread only.
final class LoopThread: @unchecked Sendable {
    let loop: UnsafeMutablePointer<uv_loop_t>
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let lock = NSLock()
    private var pending: [() -> Void] = []
    private var accepting = true
    private var onFinish: (() -> Void)?

    init(name: String) throws {
        loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        wakeup = UnsafeMutablePointer<uv_async_t>.allocate(capacity: 1)
        let initialised = uv_loop_init(loop)
        guard initialised == 0 else {
            loop.deallocate()
            wakeup.deallocate()
            throw SandboxError.workersUnavailable("uv_loop_init failed: \(uvErrorName(initialised))")
        }
        uv_async_init(loop, wakeup) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            Unmanaged<LoopThread>.fromOpaque(data).takeUnretainedValue().drain()
        }
        wakeup.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        let thread = Thread { [self] in
            // libuv learns that a worker exited from SIGCHLD. A parent may have started this process with
            // signals blocked (Foundation's Process can), and threads inherit the mask: unblock SIGCHLD here so
            // the kernel can deliver it to this thread, or no exit would ever be seen and shutdown would hang.
            var childSignal = sigset_t()
            sigemptyset(&childSignal)
            sigaddset(&childSignal, SIGCHLD)
            pthread_sigmask(SIG_UNBLOCK, &childSignal, nil)
            uv_run(loop, UV_RUN_DEFAULT)
            uv_loop_close(loop)
            loop.deallocate()
            wakeup.deallocate()
            let finish = lock.withLock { onFinish }
            finish?()
        }
        thread.name = name
        thread.start()
    }

    /// Runs `work` on the loop thread. Returns false once the loop is stopping.
    @discardableResult
    func perform(_ work: @escaping () -> Void) -> Bool {
        let accepted = lock.withLock { () -> Bool in
            guard accepting else { return false }
            pending.append(work)
            return true
        }
        if accepted { uv_async_send(wakeup) }
        return accepted
    }

    /// On the loop thread: stop accepting work; the thread ends when every other handle is closed, then
    /// calls `finished` (on that thread).
    func finish(then finished: @escaping () -> Void) {
        lock.withLock {
            accepting = false
            onFinish = finished
        }
        drain()
        uv_close(UnsafeMutableRawPointer(wakeup).assumingMemoryBound(to: uv_handle_t.self), nil)
    }

    private func drain() {
        let work = lock.withLock { () -> [() -> Void] in
            let taken = pending
            pending.removeAll()
            return taken
        }
        for item in work { item() }
    }
}

func uvErrorName(_ code: Int32) -> String {
    guard let name = uv_err_name(code), let text = uv_strerror(code) else { return "error \(code)" }
    return "\(String(cString: name)) (\(String(cString: text)))"
}

/// Allocates a libuv handle with malloc so that one close callback can free any handle type.
func allocateHandle<Handle>(_ type: Handle.Type) -> UnsafeMutablePointer<Handle> {
    let raw = malloc(MemoryLayout<Handle>.size)!
    memset(raw, 0, MemoryLayout<Handle>.size)
    return raw.assumingMemoryBound(to: Handle.self)
}

func asHandle<Handle>(_ pointer: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_handle_t.self)
}

func asStream<Handle>(_ pointer: UnsafeMutablePointer<Handle>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_stream_t.self)
}

/// Closes a handle allocated by `allocateHandle` and frees it once libuv is done with it.
func closeAndFree<Handle>(_ pointer: UnsafeMutablePointer<Handle>) {
    let handle = asHandle(pointer)
    if uv_is_closing(handle) != 0 { return }
    handle.pointee.data = nil
    uv_close(handle) { handle in free(handle) }
}
