import CUV
import Foundation
import SystemSupport

/// A child server (`torl serve --stdio`) started with libuv, its stdin and stdout as pipes. Loop thread only,
/// except `exited()`.
final class ChildProcess {
    let stdin: UnsafeMutablePointer<uv_stream_t>
    let stdout: UnsafeMutablePointer<uv_stream_t>
    private let process = allocateHandle(uv_process_t.self)
    private let loop: EventLoop
    private let exitState = Locked<(status: Int64?, waiters: [CheckedContinuation<Void, Never>])>((nil, []))
    private var selfReference: Unmanaged<ChildProcess>?
    private var killTimer: LoopTimer?

    init(executable: String, arguments: [String], stderrPath: String?, loop: EventLoop) throws {
        self.loop = loop
        let stdinPipe = allocateHandle(uv_pipe_t.self)
        let stdoutPipe = allocateHandle(uv_pipe_t.self)
        uv_pipe_init(loop.raw, stdinPipe, 0)
        uv_pipe_init(loop.raw, stdoutPipe, 0)
        stdin = asStream(stdinPipe)
        stdout = asStream(stdoutPipe)

        var stderrFD: Int32 = STDERR_FILENO
        if let stderrPath {
            stderrFD = open(stderrPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard stderrFD >= 0 else {
                Self.discard(stdin)
                Self.discard(stdout)
                throw RPCClientError.connectFailed("cannot open \(stderrPath) for the server's stderr: \(String(cString: strerror(errno)))")
            }
        }
        defer { if stderrPath != nil { close(stderrFD) } }

        func pipe(_ handle: UnsafeMutablePointer<uv_stream_t>, _ direction: uv_stdio_flags) -> uv_stdio_container_t {
            var container = uv_stdio_container_t()
            container.flags = uv_stdio_flags(rawValue: UV_CREATE_PIPE.rawValue | direction.rawValue)
            container.data.stream = handle
            return container
        }
        var inheritStderr = uv_stdio_container_t()
        inheritStderr.flags = UV_INHERIT_FD
        inheritStderr.data.fd = stderrFD
        var stdio = [pipe(stdin, UV_READABLE_PIPE), pipe(stdout, UV_WRITABLE_PIPE), inheritStderr]

        let cArguments = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var mutableArguments = cArguments
        let status = executable.withCString { file in
            mutableArguments.withUnsafeMutableBufferPointer { argv in
                stdio.withUnsafeMutableBufferPointer { containers in
                    var options = uv_process_options_t()
                    options.file = file
                    options.args = argv.baseAddress
                    options.stdio = containers.baseAddress
                    options.stdio_count = Int32(containers.count)
                    options.exit_cb = { process, status, signal in
                        guard let process, let data = process.pointee.data else { return }
                        Unmanaged<ChildProcess>.fromOpaque(data).takeUnretainedValue().didExit(status: status, signal: signal)
                    }
                    return uv_spawn(loop.raw, process, &options)
                }
            }
        }
        guard status == 0 else {
            Self.discard(stdin)
            Self.discard(stdout)
            closeAndFree(process)
            throw RPCClientError.connectFailed(UVError(status, "spawn \(executable)").description)
        }
        let reference = Unmanaged.passRetained(self)
        selfReference = reference
        process.pointee.data = reference.toOpaque()
    }

    private static func discard(_ handle: UnsafeMutablePointer<uv_stream_t>) {
        closeAndFree(handle)
    }

    private func didExit(status: Int64, signal: Int32) {
        killTimer?.cancel()
        killTimer = nil
        let waiters = exitState.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.status = signal != 0 ? -Int64(signal) : status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        uv_close(asHandle(process)) { handle in
            guard let handle, let data = handle.pointee.data else { return }
            freeHandle(handle)
            Unmanaged<ChildProcess>.fromOpaque(data).release()
        }
    }

    /// After its stdin closes the child should exit by itself; one that has not after `grace` seconds is killed.
    func releaseWhenExited(grace: Double = 5) {
        guard exitState.withLock({ $0.status == nil }), killTimer == nil else { return }
        killTimer = LoopTimer(loop: loop, after: grace) { [weak self] in
            guard let self else { return }
            self.killTimer = nil
            uv_process_kill(self.process, SIGKILL)
        }
    }

    var exitStatus: Int64? { exitState.withLock { $0.status } }

    func exited() async {
        await withCheckedContinuation { continuation in
            let done = exitState.withLock { state -> Bool in
                if state.status != nil { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
