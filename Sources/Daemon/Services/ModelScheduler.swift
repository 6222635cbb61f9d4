import Foundation
import Generation
import JSONRPC
import MathGrader
import RL
import SystemSupport
import TorlProtocol

/// Decides who uses the model and when. Jobs run one at a time in arrival order (the model and its KV cache
/// have one owner); `solve` requests that arrive while a job runs are decoded together in the next batch when
/// their settings match, so concurrent editors share the batched decoder instead of queueing behind each other.
///
/// Policy while `train_step` runs: other model work waits for it (queued, FIFO, cancellable while waiting);
/// `status` and `sandbox/execute` never wait.
actor ModelScheduler {
    struct SolveTicket {
        let id: Int
        let problem: Problem
        let settings: RolloutSettings
        /// The random stream this request's sample draws, wherever the batch places it.
        let randomStream: UInt64
        let observer: @Sendable (RolloutEvent) -> Void
        let cancellation: CancellationFlag
    }

    private let compute: ComputeThread
    private var running: String?
    private var waiting: [(name: String, resume: CheckedContinuation<Void, Never>)] = []
    private var solves: [SolveTicket] = []
    /// The awaiting requester of each unanswered ticket, waiting or decoding. A ticket is answered once: by its
    /// batch's result, or at once when its request is cancelled.
    private var requesters: [Int: CheckedContinuation<Trajectory, Error>] = [:]
    private var nextTicket = 0
    private var solvePumpQueued = false
    private var solveBatches = 0
    private var solvesDecoded = 0
    private var largestSolveBatch = 0

    static let gatheringWindowNanoseconds: UInt64 = 20_000_000

    init(compute: ComputeThread) {
        self.compute = compute
    }

    /// What runs now, how much waits, and how solves were batched (`status.queue.model`).
    func snapshot() -> SchedulerSnapshot {
        SchedulerSnapshot(model_job: running, model_jobs_waiting: waiting.count, solves_waiting: solves.count,
                 solve_batches: solveBatches, solves_decoded: solvesDecoded, largest_solve_batch: largestSolveBatch)
    }

    /// Runs `work` alone on the model, on the compute thread's executor.
    func exclusive<T: Sendable>(_ name: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        await acquire(name)
        defer { release() }
        try Task.checkCancellation()
        let task = Task(executorPreference: compute) { try await work() }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    /// One tool-integrated solution; batched with other solves of the same settings.
    /// `randomStream` keys the sample's random numbers on the request: a request with a seed passes 0, so it
    /// samples the same text alone or at any place in a shared batch; nil (no seed given) takes the request's
    /// ticket number, unique in this daemon, so unseeded requests never share a stream.
    func solve(_ problem: Problem, settings: RolloutSettings, randomStream: UInt64?, cancellation: CancellationFlag,
               engine: @escaping @Sendable () throws -> RolloutEngine,
               observer: @escaping @Sendable (RolloutEvent) -> Void) async throws -> Trajectory {
        nextTicket += 1
        let id = nextTicket
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                requesters[id] = continuation
                solves.append(SolveTicket(id: id, problem: problem, settings: settings,
                                          randomStream: randomStream ?? UInt64(id), observer: observer,
                                          cancellation: cancellation))
                if !solvePumpQueued {
                    solvePumpQueued = true
                    Task { await self.pumpSolves(engine: engine) }
                }
            }
        } onCancel: {
            // Answer a cancelled solve now, not when the batch it rides in ends; the rollout drops its sequence at
            // the next decoder step (`isProblemCancelled`).
            Task { await self.answer(id, with: .failure(CancellationError())) }
        }
    }

    private func answer(_ id: Int, with result: Result<Trajectory, Error>) {
        requesters.removeValue(forKey: id)?.resume(with: result)
        solves.removeAll { $0.id == id }
    }

    private func pumpSolves(engine: @escaping @Sendable () throws -> RolloutEngine) async {
        await acquire("solve")
        // Requests sent together (several editors, a script's burst) arrive microseconds to milliseconds apart:
        // a short gathering window lets them ride one batch instead of the first one decoding alone.
        try? await Task.sleep(nanoseconds: Self.gatheringWindowNanoseconds)
        solvePumpQueued = false
        guard !solves.isEmpty else { return release() }
        // Everyone waiting now, with the first ticket's settings, rides this batch; the rest go next time.
        let settings = solves[0].settings
        let batch = solves.filter { $0.settings == settings && !$0.cancellation.isCancelled }
        let cancelled = solves.filter { $0.cancellation.isCancelled }
        solves.removeAll { $0.settings == settings || $0.cancellation.isCancelled }
        for ticket in cancelled { answer(ticket.id, with: .failure(CancellationError())) }
        if !solves.isEmpty && !solvePumpQueued {
            solvePumpQueued = true
            Task { await self.pumpSolves(engine: engine) }
        }
        if !batch.isEmpty { await runSolveBatch(batch, settings: settings, engine: engine) }
        release()
    }

    private func runSolveBatch(_ batch: [SolveTicket], settings: RolloutSettings,
                               engine: @escaping @Sendable () throws -> RolloutEngine) async {
        solveBatches += 1
        solvesDecoded += batch.count
        largestSolveBatch = max(largestSolveBatch, batch.count)
        let observers = batch.map(\.observer)
        let task = Task(executorPreference: compute) { () async throws -> [Trajectory] in
            try await engine().run(problems: batch.map(\.problem), settings: settings,
                                   randomStreams: batch.map(\.randomStream), isProblemCancelled: { batch[$0].cancellation.isCancelled }) { event in
                observers[event.key.group](event)
            }
        }
        // Stop decoding once every requester of the batch has gone away.
        let watchdog = Task {
            while !task.isCancelled {
                if batch.allSatisfy({ $0.cancellation.isCancelled }) { task.cancel(); return }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
        }
        defer { watchdog.cancel() }
        do {
            let trajectories = try await task.value
            for (ticket, trajectory) in zip(batch, trajectories) {
                answer(ticket.id, with: ticket.cancellation.isCancelled ? .failure(CancellationError()) : .success(trajectory))
            }
        } catch {
            for ticket in batch { answer(ticket.id, with: .failure(error)) }
        }
    }

    private func acquire(_ name: String) async {
        if running == nil {
            running = name
            return
        }
        await withCheckedContinuation { waiting.append((name, $0)) }
    }

    private func release() {
        if waiting.isEmpty {
            running = nil
        } else {
            let next = waiting.removeFirst()
            running = next.name
            next.resume.resume()
        }
    }
}

extension RolloutEvent {
    var key: TrajectoryKey {
        switch self {
        case .text(let key, _, _), .toolCall(let key, _, _), .toolResult(let key, _, _), .finished(let key, _): return key
        }
    }
}
