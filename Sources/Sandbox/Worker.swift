import CUV
import Foundation
import SystemSupport

/// A run waiting for, or held by, a worker.
final class PendingRun {
    let id: Int
    let code: String
    let limits: ExecutionLimits
    /// uv_hrtime() when the run entered the pool.
    let enqueuedAt: UInt64
    private let completion: (ExecutionResult) -> Void
    private var completed = false

    init(id: Int, code: String, limits: ExecutionLimits, enqueuedAt: UInt64,
         completion: @escaping (ExecutionResult) -> Void) {
        self.id = id
        self.code = code
        self.limits = limits
        self.enqueuedAt = enqueuedAt
        self.completion = completion
    }

    /// Delivers the result once; later calls are ignored.
    func complete(_ result: ExecutionResult) {
        guard !completed else { return }
        completed = true
        completion(result)
    }
}

protocol WorkerDelegate: AnyObject {
    func workerBecameReady(_ worker: Worker, python: String?, isolation: IsolationReport?)
    func worker(_ worker: Worker, finished run: PendingRun, result: ExecutionResult)
    /// The fork-server process is gone and all its handles are closing. `wasReady` tells a crash of a
    /// serving worker from a failed start.
    func workerExited(_ worker: Worker, wasReady: Bool, reason: String)
}

/// One fork-server process and the pipes to it. Lives on the pool's loop thread.
///
/// Pipes (child's view): 0 requests in, 1 and 2 the runs' stdout and stderr, 3 replies out. A run's output
/// arrives on the worker's long-lived stdout/stderr pipes; because one run at a time uses them and every
/// process of a run is dead before the server reports "done", the bytes still in the pipes at "done" belong
/// to that run and are drained then, without waiting for end-of-file.
final class Worker {
    enum State { case starting, idle, running, exited }
    private enum TimerPhase { case startup, wallClock, grace, confirmKill }

    let slot: Int
    private(set) var state = State.starting
    private(set) var pid: Int32 = 0
    /// uv_hrtime() when the worker last became idle: the pool prefers the worker idle the longest, whose
    /// next run process has had the most time to be forked ahead.
    private(set) var idleSince: UInt64 = 0
    weak var delegate: WorkerDelegate?

    private let loop: UnsafeMutablePointer<uv_loop_t>
    private let configuration: SandboxConfiguration
    private var process: UnsafeMutablePointer<uv_process_t>?
    private var requests: UnsafeMutablePointer<uv_pipe_t>?
    private var runStdout: UnsafeMutablePointer<uv_pipe_t>?
    private var runStderr: UnsafeMutablePointer<uv_pipe_t>?
    private var replies: UnsafeMutablePointer<uv_pipe_t>?
    private var timer: UnsafeMutablePointer<uv_timer_t>?
    private var timerPhase = TimerPhase.startup
    private var decoder = FrameDecoder()
    private let readBuffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
    /// Why the pool killed this worker, when it did.
    private var terminationReason: String?
    /// What the server wrote to stderr before it was ready (an import error, a traceback).
    private var startupErrors = [UInt8]()

    private var run: PendingRun?
    private var runPid: Int32?
    private var dispatchedAt: UInt64 = 0
    private var stdoutBytes = [UInt8]()
    private var stderrBytes = [UInt8]()
    private var truncated = false
    private var killReason: KillReason?

    init(slot: Int, loop: UnsafeMutablePointer<uv_loop_t>, configuration: SandboxConfiguration) {
        self.slot = slot
        self.loop = loop
        self.configuration = configuration
    }

    deinit { readBuffer.deallocate() }

    var isBusy: Bool { state == .running }

    // MARK: start-up

    /// Spawns the fork-server. On failure the worker is already `exited` and the reason is returned.
    func start(script: String, environment: [String: String]) -> String? {
        let process = allocateHandle(uv_process_t.self)
        let pipes = (0..<4).map { _ in allocateHandle(uv_pipe_t.self) }
        let timer = allocateHandle(uv_timer_t.self)
        let opaqueSelf = Unmanaged.passUnretained(self).toOpaque()
        for pipe in pipes {
            uv_pipe_init(loop, pipe, 0)
            pipe.pointee.data = opaqueSelf
        }
        uv_timer_init(loop, timer)
        timer.pointee.data = opaqueSelf
        process.pointee.data = opaqueSelf
        self.process = process
        (requests, runStdout, runStderr, replies) = (pipes[0], pipes[1], pipes[2], pipes[3])
        self.timer = timer

        let settings = ServerSettings(isolate: configuration.isolate,
                                      runUID: configuration.runUIDBase + UInt32(slot),
                                      tmpfsBytes: configuration.privateTmpBytes)
        let settingsJSON = String(decoding: (try? JSONEncoder().encode(settings)) ?? Data("{}".utf8), as: UTF8.self)
        let arguments = [configuration.pythonPath, "-c", script, settingsJSON]
        let environmentLines = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let spawnResult = withCStrings(arguments) { argv in
            withCStrings(environmentLines) { envp in
                "/".withCString { cwd in
                    var stdio = [uv_stdio_container_t](repeating: uv_stdio_container_t(), count: 4)
                    let childReads = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_READABLE_PIPE.rawValue)
                    let childWrites = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_WRITABLE_PIPE.rawValue)
                    for (index, pipe) in pipes.enumerated() {
                        stdio[index].flags = index == 0 ? childReads : childWrites
                        stdio[index].data.stream = asStream(pipe)
                    }
                    return stdio.withUnsafeMutableBufferPointer { containers -> Int32 in
                        var options = uv_process_options_t()
                        options.file = UnsafePointer(argv[0])
                        options.args = argv
                        options.env = envp
                        options.cwd = cwd
                        options.flags = UInt32(UV_PROCESS_DETACHED.rawValue)
                        options.stdio_count = 4
                        options.stdio = containers.baseAddress
                        options.exit_cb = { handle, exitStatus, termSignal in
                            guard let handle, let data = handle.pointee.data else { return }
                            Unmanaged<Worker>.fromOpaque(data).takeUnretainedValue()
                                .serverExited(status: exitStatus, signal: termSignal)
                        }
                        return uv_spawn(loop, process, &options)
                    }
                }
            }
        }
        guard spawnResult == 0 else {
            let reason = "cannot start \(configuration.pythonPath): \(uvErrorName(spawnResult))"
            state = .exited
            closeHandles()
            return reason
        }
        pid = process.pointee.pid
        for pipe in [runStdout, runStderr, replies].compactMap({ $0 }) {
            uv_read_start(asStream(pipe), { handle, _, buffer in
                guard let handle, let buffer, let data = handle.pointee.data else { return }
                let worker = Unmanaged<Worker>.fromOpaque(data).takeUnretainedValue()
                buffer.pointee = uv_buf_init(worker.readBuffer.assumingMemoryBound(to: CChar.self), 1 << 16)
            }, { stream, count, buffer in
                guard let stream, let data = stream.pointee.data else { return }
                let worker = Unmanaged<Worker>.fromOpaque(data).takeUnretainedValue()
                worker.received(on: stream, count: count, base: buffer?.pointee.base)
            })
        }
        arm(.startup, seconds: configuration.startupTimeoutSeconds)
        return nil
    }

    // MARK: runs

    /// Hands a run to an idle worker.
    func begin(_ run: PendingRun) {
        self.run = run
        state = .running
        runPid = nil
        stdoutBytes.removeAll(keepingCapacity: true)
        stderrBytes.removeAll(keepingCapacity: true)
        truncated = false
        killReason = nil
        dispatchedAt = uv_hrtime()
        let request = RunRequest(
            id: run.id, code: run.code,
            limits: .init(cpuSeconds: run.limits.cpuSeconds, memoryBytes: run.limits.memoryBytes,
                          maxFileBytes: run.limits.maxFileBytes, maxProcesses: run.limits.maxProcesses),
            environment: SandboxEnvironment.run)
        guard let body = try? JSONEncoder().encode(request), let requests else {
            terminate(reason: "the run request could not be encoded")
            return
        }
        let written = write(WireFrame.encode(body), to: requests)
        if written != 0 {
            terminate(reason: "writing the run request failed: \(uvErrorName(written))")
            return
        }
        arm(.wallClock, seconds: run.limits.wallTimeoutSeconds)
    }

    private func write(_ frame: Data, to pipe: UnsafeMutablePointer<uv_pipe_t>) -> Int32 {
        let storage = malloc(frame.count)!
        frame.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: frame.count) }
        let request = allocateHandle(uv_write_t.self)
        request.pointee.data = storage
        var buffer = uv_buf_init(storage.assumingMemoryBound(to: CChar.self), UInt32(frame.count))
        let result = uv_write(request, asStream(pipe), &buffer, 1) { request, _ in
            guard let request else { return }
            free(request.pointee.data)
            freeHandle(request)
        }
        if result != 0 {
            free(storage)
            freeHandle(request)
        }
        return result
    }

    private func received(on stream: UnsafeMutablePointer<uv_stream_t>, count: Int, base: UnsafeMutablePointer<CChar>?) {
        let pointer = UnsafeMutableRawPointer(stream)
        if count < 0 {
            // End of file or an error on a pipe: the server is going away; its exit callback finishes up.
            uv_read_stop(stream)
            if pointer == replies.map({ UnsafeMutableRawPointer($0) }) { killServer() }
            return
        }
        guard count > 0, let base else { return }
        let bytes = UnsafeRawBufferPointer(start: base, count: count)
        if pointer == replies.map({ UnsafeMutableRawPointer($0) }) {
            receivedReplies(bytes)
        } else {
            capture(bytes, isStdout: pointer == runStdout.map({ UnsafeMutableRawPointer($0) }))
        }
    }

    private func capture(_ bytes: UnsafeRawBufferPointer, isStdout: Bool) {
        guard let run else {
            if state == .starting && startupErrors.count < 8192 { startupErrors.append(contentsOf: bytes.prefix(8192)) }
            return
        }
        let room = max(0, run.limits.maxOutputBytes - stdoutBytes.count - stderrBytes.count)
        let kept = bytes.prefix(room)
        if isStdout { stdoutBytes.append(contentsOf: kept) } else { stderrBytes.append(contentsOf: kept) }
        if bytes.count > room {
            truncated = true
            if killReason == nil {
                killReason = .outputLimit
                signalRun(SIGKILL)
                arm(.confirmKill, seconds: configuration.hangTimeoutSeconds)
            }
        }
    }

    private func receivedReplies(_ bytes: UnsafeRawBufferPointer) {
        let frames: [Data]
        do {
            frames = try decoder.feed(bytes)
        } catch {
            terminate(reason: "the fork-server sent a corrupt frame: \(error)")
            return
        }
        for frame in frames {
            guard let message = try? JSONDecoder().decode(ControlMessage.self, from: frame) else {
                terminate(reason: "the fork-server sent an unreadable reply: \(String(decoding: frame.prefix(200), as: UTF8.self))")
                return
            }
            handle(message)
        }
    }

    private func handle(_ message: ControlMessage) {
        switch message.type {
        case "ready" where state == .starting:
            state = .idle
            idleSince = uv_hrtime()
            stopTimer()
            startupErrors.removeAll()
            delegate?.workerBecameReady(self, python: message.python, isolation: message.isolation)
        case "started" where state == .running && message.id == run?.id:
            runPid = message.pid
            if killReason != nil { signalRun(SIGKILL) }
        case "done" where state == .running && message.id == run?.id:
            finishRun(message)
        default:
            terminate(reason: "unexpected reply \(message.type) in state \(state)")
        }
    }

    private func finishRun(_ message: ControlMessage) {
        guard let run else { return }
        stopTimer()
        drainRemainingOutput()
        let wallMs = Double(uv_hrtime() - dispatchedAt) / 1e6
        let queueMs = Double(dispatchedAt - run.enqueuedAt) / 1e6
        let stdout = String(decoding: stdoutBytes, as: UTF8.self)
        let stderr = String(decoding: stderrBytes, as: UTF8.self)
        let result: ExecutionResult
        if let error = message.error {
            result = ExecutionResult(status: .sandboxError, stdout: stdout, stderr: stderr, wallMs: wallMs,
                                     queueMs: queueMs, truncated: truncated, message: error, pid: runPid)
        } else {
            let status = classifyRun(exitCode: message.exitCode, signal: message.signal, killReason: killReason,
                                     stderr: stderr, cpuMs: message.cpuMs, cpuLimitSeconds: run.limits.cpuSeconds)
            result = ExecutionResult(status: status, exitCode: message.exitCode, signal: message.signal,
                                     stdout: stdout, stderr: stderr, wallMs: wallMs, cpuMs: message.cpuMs,
                                     queueMs: queueMs, truncated: truncated,
                                     message: killMessage(status: status, signal: message.signal, killReason: killReason,
                                                                  limits: run.limits),
                                     pid: runPid)
        }
        self.run = nil
        runPid = nil
        state = .idle
        idleSince = uv_hrtime()
        delegate?.worker(self, finished: run, result: result)
    }

    /// Every process of the run is gone, so whatever the pipes still hold is the tail of its output.
    private func drainRemainingOutput() {
        for (pipe, isStdout) in [(runStdout, true), (runStderr, false)] {
            guard let pipe else { continue }
            var descriptor: uv_os_fd_t = -1
            guard uv_fileno(asHandle(pipe), &descriptor) == 0 else { continue }
            while true {
                let count = read(descriptor, readBuffer, 1 << 16)
                if count <= 0 { break }
                capture(UnsafeRawBufferPointer(start: readBuffer, count: count), isStdout: isStdout)
            }
        }
    }

    private func finishWithSandboxError(_ reason: String) {
        guard let run else { return }
        let wallMs = Double(uv_hrtime() - dispatchedAt) / 1e6
        let result = ExecutionResult(status: .sandboxError, stdout: String(decoding: stdoutBytes, as: UTF8.self),
                                     stderr: String(decoding: stderrBytes, as: UTF8.self), wallMs: wallMs,
                                     queueMs: Double(dispatchedAt - run.enqueuedAt) / 1e6,
                                     truncated: truncated, message: reason, pid: runPid)
        self.run = nil
        runPid = nil
        delegate?.worker(self, finished: run, result: result)
    }

    // MARK: time limits

    private func arm(_ phase: TimerPhase, seconds: Double) {
        guard let timer else { return }
        timerPhase = phase
        uv_timer_start(timer, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            Unmanaged<Worker>.fromOpaque(data).takeUnretainedValue().timerFired()
        }, UInt64(max(1, (seconds * 1000).rounded(.up))), 0)
    }

    private func stopTimer() {
        if let timer { uv_timer_stop(timer) }
    }

    private func timerFired() {
        switch timerPhase {
        case .startup:
            terminate(reason: "the fork-server did not report ready within \(configuration.startupTimeoutSeconds) s")
        case .wallClock:
            guard runPid != nil else {
                terminate(reason: "the fork-server did not start the run within its wall-clock limit")
                return
            }
            killReason = .timeout
            signalRun(SIGTERM)
            arm(.grace, seconds: configuration.killGraceSeconds)
        case .grace:
            signalRun(SIGKILL)
            arm(.confirmKill, seconds: configuration.hangTimeoutSeconds)
        case .confirmKill:
            terminate(reason: "the fork-server did not confirm the end of a killed run within "
                + "\(configuration.hangTimeoutSeconds) s")
        }
    }

    /// Signals the run's whole process group, and the run itself (pid 1 of its namespace ignores SIGTERM
    /// unless it installed a handler; SIGKILL of it ends every process in the namespace).
    private func signalRun(_ signal: Int32) {
        guard let runPid, runPid > 1 else { return }
        kill(-runPid, signal)
        kill(runPid, signal)
    }

    // MARK: end of the worker

    /// Kills the fork-server and everything it started; `serverExited` follows.
    func terminate(reason: String) {
        guard state != .exited else { return }
        if terminationReason == nil { terminationReason = reason }
        killServer()
    }

    private func killServer() {
        guard state != .exited else { return }
        signalRun(SIGKILL)
        if pid > 0 {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
    }

    private func serverExited(status: Int64, signal: Int32) {
        let wasReady = state != .starting
        // The run dies with its server (parent-death signal); killing its group here covers the instant
        // between its uid change and re-arming that signal.
        signalRun(SIGKILL)
        state = .exited
        stopTimer()
        var reason = terminationReason
            ?? (signal != 0 ? "the fork-server was killed by signal \(signal)" : "the fork-server exited with status \(status)")
        if !wasReady, let detail = lastLine(of: String(decoding: startupErrors, as: UTF8.self)) {
            reason += ": \(detail)"
        }
        finishWithSandboxError(reason)
        closeHandles()
        delegate?.workerExited(self, wasReady: wasReady, reason: reason)
    }

    private func closeHandles() {
        for pipe in [requests, runStdout, runStderr, replies].compactMap({ $0 }) { closeAndFree(pipe) }
        if let timer { closeAndFree(timer) }
        if let process { closeAndFree(process) }
        (requests, runStdout, runStderr, replies, timer, process) = (nil, nil, nil, nil, nil, nil)
    }
}

/// Calls `body` with a NULL-terminated C array of copies of `strings`, freed afterwards.
private func withCStrings<Result>(_ strings: [String],
                                  _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Result) -> Result {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
