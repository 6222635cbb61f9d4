import CUV
import Foundation
import SystemSupport

/// A pool of warm Python fork-servers held in memory, driven by a libuv loop on its own thread.
///
/// Thread-safe: every method may be called from any thread or task. Code failures never throw; each ends
/// in an `ExecutionResult` whose status says what happened, and every status is counted in `status()`.
public final class SandboxPool: @unchecked Sendable {
    public let configuration: SandboxConfiguration
    private let loopThread: EventLoop
    /// Touched only on the loop thread.
    private let core: PoolCore
    private let lock = NSLock()
    private var finalMetrics: SandboxMetrics?

    /// Starts `poolSize` workers at once; their start-up (imports, warm-up) runs in the background.
    /// Throws only for an invalid configuration or when the event loop cannot be created.
    public init(configuration: SandboxConfiguration = SandboxConfiguration()) throws {
        try configuration.validate()
        self.configuration = configuration
        do {
            loopThread = try EventLoop(name: "torl-sandbox", receivesSignals: [SIGCHLD])
        } catch {
            throw SandboxError.workersUnavailable("\(error)")
        }
        core = PoolCore(configuration: configuration, loop: loopThread.raw)
        let core = core
        let loopThread = loopThread
        core.whenStopped = { [weak self] in
            let snapshot = core.metrics()
            self?.lock.withLock { self?.finalMetrics = snapshot }
            loopThread.close()
        }
        loopThread.execute { core.startWorkers() }
    }

    /// A pool dropped without `shutdown()` still stops its workers, in the background.
    deinit {
        let core = core
        let loopThread = loopThread
        loopThread.execute { core.shutdown {} }
    }

    /// Runs `code` in a fresh forked interpreter under `limits` (the pool's defaults when nil).
    public func execute(_ code: String, limits: ExecutionLimits? = nil) async -> ExecutionResult {
        let limits = limits ?? configuration.defaultLimits
        let core = core
        return await withCheckedContinuation { continuation in
            let accepted = loopThread.execute {
                core.submit(code: code, limits: limits) { continuation.resume(returning: $0) }
            }
            if !accepted {
                continuation.resume(returning: ExecutionResult(status: .sandboxError,
                                                               message: SandboxError.shutDown.description))
            }
        }
    }

    /// Waits until every worker has imported numpy and sympy and reported ready. Throws when workers keep
    /// failing to start (the error names the interpreter and the failure) or when the pool shuts down.
    public func waitUntilReady() async throws {
        let core = core
        let outcome: Result<Void, SandboxError> = await withCheckedContinuation { continuation in
            let accepted = loopThread.execute { core.whenAllReady { continuation.resume(returning: $0) } }
            if !accepted { continuation.resume(returning: .failure(.shutDown)) }
        }
        try outcome.get()
    }

    /// A snapshot of workers, queue, counters and the isolation in force.
    public func status() async -> SandboxMetrics {
        let core = core
        return await withCheckedContinuation { continuation in
            let accepted = loopThread.execute { continuation.resume(returning: core.metrics()) }
            if !accepted {
                let snapshot = self.lock.withLock { self.finalMetrics } ?? core.emptyMetrics()
                continuation.resume(returning: snapshot)
            }
        }
    }

    /// Kills every worker and every run (queued runs end with `sandbox_error`) and stops the loop thread.
    /// Returns once no process of the pool is left. Later calls return at once.
    public func shutdown() async {
        let core = core
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let accepted = loopThread.execute { core.shutdown { continuation.resume() } }
            if !accepted { continuation.resume() }
        }
    }
}

/// The pool's state and decisions; lives on the loop thread.
final class PoolCore: WorkerDelegate {
    /// Consecutive failed starts of a slot before queued runs are failed instead of kept waiting.
    private static let startFailureLimit = 3

    private let configuration: SandboxConfiguration
    private let loop: UnsafeMutablePointer<uv_loop_t>
    private let serverEnvironment = SandboxEnvironment.server()
    private var workers: [Worker?]
    private var startFailures: [Int]
    private var restartTimers: [UnsafeMutablePointer<uv_timer_t>?]
    private var queue = RunQueue()
    private var nextRunID = 1
    private var statusCounts = [ExecutionStatus: Int]()
    private var runsTotal = 0
    private var workersReplaced = 0
    private var isolation: IsolationReport?
    private var pythonVersion: String?
    private var lastWorkerError: String?
    private var readyWaiters: [(Result<Void, SandboxError>) -> Void] = []
    private var shuttingDown = false
    private var shutdownCompletions: [() -> Void] = []
    /// Called once, on the loop thread, when shutdown has stopped every worker.
    var whenStopped: (() -> Void)?

    init(configuration: SandboxConfiguration, loop: UnsafeMutablePointer<uv_loop_t>) {
        self.configuration = configuration
        self.loop = loop
        workers = Array(repeating: nil, count: configuration.poolSize)
        startFailures = Array(repeating: 0, count: configuration.poolSize)
        restartTimers = Array(repeating: nil, count: configuration.poolSize)
    }

    func startWorkers() {
        for slot in 0..<configuration.poolSize { spawnWorker(slot: slot) }
    }

    private func spawnWorker(slot: Int) {
        guard !shuttingDown else { return }
        let worker = Worker(slot: slot, loop: loop, configuration: configuration)
        worker.delegate = self
        workers[slot] = worker
        if let failure = worker.start(script: ForkServerScript.source, environment: serverEnvironment) {
            workers[slot] = nil
            startFailed(slot: slot, reason: failure)
        }
    }

    // MARK: runs

    func submit(code: String, limits: ExecutionLimits, completion: @escaping (ExecutionResult) -> Void) {
        let run = PendingRun(id: nextRunID, code: code, limits: limits, enqueuedAt: uv_hrtime(),
                             completion: completion)
        nextRunID += 1
        if shuttingDown {
            return finish(run, ExecutionResult(status: .sandboxError, message: SandboxError.shutDown.description))
        }
        if let problem = limits.problem() {
            return finish(run, ExecutionResult(status: .rejected, message: "invalid limits: \(problem)"))
        }
        let sourceBytes = code.utf8.count
        if sourceBytes > limits.maxSourceBytes {
            return finish(run, ExecutionResult(
                status: .rejected,
                message: "source is \(sourceBytes) bytes; the limit is \(limits.maxSourceBytes) bytes"))
        }
        if isHopeless {
            return finish(run, ExecutionResult(status: .sandboxError, message: unavailableMessage))
        }
        if let worker = idleWorker() {
            worker.begin(run)
        } else if queue.count < configuration.queueCapacity {
            queue.append(run)
        } else {
            finish(run, ExecutionResult(
                status: .busy,
                message: "all \(configuration.poolSize) workers are busy and \(queue.count) runs are queued "
                    + "(queue capacity \(configuration.queueCapacity))"))
        }
    }

    private func finish(_ run: PendingRun, _ result: ExecutionResult) {
        statusCounts[result.status, default: 0] += 1
        runsTotal += 1
        run.complete(result)
    }

    /// The worker idle the longest (its next run process is the most likely to be forked already).
    private func idleWorker() -> Worker? {
        workers.compactMap { $0 }.filter { $0.state == .idle }.min { $0.idleSince < $1.idleSince }
    }

    private func dispatchQueued() {
        while !queue.isEmpty, let worker = idleWorker(), let run = queue.popFirst() {
            worker.begin(run)
        }
    }

    // MARK: WorkerDelegate

    func workerBecameReady(_ worker: Worker, python: String?, isolation: IsolationReport?) {
        startFailures[worker.slot] = 0
        if self.isolation == nil { self.isolation = isolation }
        if pythonVersion == nil { pythonVersion = python }
        resolveReadyWaiters()
        dispatchQueued()
    }

    func worker(_ worker: Worker, finished run: PendingRun, result: ExecutionResult) {
        finish(run, result)
        if worker.state == .idle { dispatchQueued() }
    }

    func workerExited(_ worker: Worker, wasReady: Bool, reason: String) {
        guard workers[worker.slot] === worker else { return }
        workers[worker.slot] = nil
        if shuttingDown {
            completeShutdownIfDone()
            return
        }
        if wasReady {
            lastWorkerError = reason
            workersReplaced += 1
            spawnWorker(slot: worker.slot)
        } else {
            startFailed(slot: worker.slot, reason: reason)
        }
    }

    // MARK: start-up failures

    private func startFailed(slot: Int, reason: String) {
        lastWorkerError = reason
        startFailures[slot] += 1
        if isHopeless {
            let message = unavailableMessage
            while let run = queue.popFirst() { finish(run, ExecutionResult(status: .sandboxError, message: message)) }
            resolveReadyWaiters()
        }
        scheduleRestart(slot: slot)
    }

    /// No worker serves and every slot has failed to start repeatedly: waiting would never end.
    private var isHopeless: Bool {
        !workers.contains { $0 != nil && $0!.state != .starting }
            && startFailures.allSatisfy { $0 >= Self.startFailureLimit }
    }

    private var unavailableMessage: String {
        "no sandbox worker could start (\(configuration.pythonPath)): \(lastWorkerError ?? "unknown failure")"
    }

    /// Restarts a failed slot after a delay doubling from 0.1 s up to 5 s.
    private func scheduleRestart(slot: Int) {
        guard !shuttingDown else { return }
        let timer: UnsafeMutablePointer<uv_timer_t>
        if let existing = restartTimers[slot] {
            timer = existing
        } else {
            timer = allocateHandle(uv_timer_t.self)
            uv_timer_init(loop, timer)
            restartTimers[slot] = timer
        }
        workersReplaced += 1
        let delay = min(5.0, 0.1 * pow(2.0, Double(max(0, startFailures[slot] - 1))))
        let context = RestartContext(core: self, slot: slot)
        timer.pointee.data = Unmanaged.passRetained(context).toOpaque()
        uv_timer_start(timer, { handle in
            guard let handle, let data = handle.pointee.data else { return }
            handle.pointee.data = nil
            let context = Unmanaged<RestartContext>.fromOpaque(data).takeRetainedValue()
            context.core?.spawnWorker(slot: context.slot)
        }, UInt64(delay * 1000), 0)
    }

    // MARK: readiness, metrics, shutdown

    func whenAllReady(_ completion: @escaping (Result<Void, SandboxError>) -> Void) {
        readyWaiters.append(completion)
        resolveReadyWaiters()
    }

    private func resolveReadyWaiters() {
        guard !readyWaiters.isEmpty else { return }
        let outcome: Result<Void, SandboxError>
        if shuttingDown {
            outcome = .failure(.shutDown)
        } else if workers.allSatisfy({ $0 != nil && $0!.state != .starting && $0!.state != .exited }) {
            outcome = .success(())
        } else if isHopeless {
            outcome = .failure(.workersUnavailable(unavailableMessage))
        } else {
            return
        }
        let waiters = readyWaiters
        readyWaiters.removeAll()
        waiters.forEach { $0(outcome) }
    }

    func metrics() -> SandboxMetrics {
        var counts = [String: Int]()
        for status in ExecutionStatus.allCases { counts[status.rawValue] = statusCounts[status, default: 0] }
        let alive = workers.compactMap { $0 }.filter { $0.state == .idle || $0.state == .running }
        return SandboxMetrics(poolSize: configuration.poolSize, workersAlive: alive.count,
                              workersBusy: alive.filter(\.isBusy).count, queueDepth: queue.count,
                              queueCapacity: configuration.queueCapacity, workersReplaced: workersReplaced,
                              workerPIDs: alive.map(\.pid), runsTotal: runsTotal, statusCounts: counts, isolation: isolation,
                              pythonPath: configuration.pythonPath, pythonVersion: pythonVersion,
                              lastWorkerError: lastWorkerError)
    }

    func emptyMetrics() -> SandboxMetrics {
        SandboxMetrics(poolSize: configuration.poolSize, workersAlive: 0, workersBusy: 0, queueDepth: 0,
                       queueCapacity: configuration.queueCapacity, workersReplaced: 0, workerPIDs: [], runsTotal: 0,
                       statusCounts: [:], isolation: nil, pythonPath: configuration.pythonPath,
                       pythonVersion: nil, lastWorkerError: nil)
    }

    /// Stops every worker; `completion` runs once none is left (every caller's, however many call).
    func shutdown(completion: @escaping () -> Void) {
        shutdownCompletions.append(completion)
        guard !shuttingDown else { return }
        shuttingDown = true
        while let run = queue.popFirst() {
            finish(run, ExecutionResult(status: .sandboxError, message: SandboxError.shutDown.description))
        }
        resolveReadyWaiters()
        for (slot, timer) in restartTimers.enumerated() {
            guard let timer else { continue }
            if let data = timer.pointee.data { Unmanaged<RestartContext>.fromOpaque(data).release() }
            closeAndFree(timer)
            restartTimers[slot] = nil
        }
        for worker in workers.compactMap({ $0 }) { worker.terminate(reason: "the sandbox pool shut down") }
        completeShutdownIfDone()
    }

    private func completeShutdownIfDone() {
        guard shuttingDown, workers.allSatisfy({ $0 == nil }), !shutdownCompletions.isEmpty else { return }
        let completions = shutdownCompletions
        shutdownCompletions.removeAll()
        whenStopped?()
        whenStopped = nil
        completions.forEach { $0() }
    }
}

private final class RestartContext {
    weak var core: PoolCore?
    let slot: Int
    init(core: PoolCore, slot: Int) {
        self.core = core
        self.slot = slot
    }
}

/// FIFO of waiting runs with O(1) removal from the front.
struct RunQueue {
    private var items = [PendingRun]()
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ run: PendingRun) { items.append(run) }

    mutating func popFirst() -> PendingRun? {
        guard head < items.count else { return nil }
        let run = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return run
    }
}
