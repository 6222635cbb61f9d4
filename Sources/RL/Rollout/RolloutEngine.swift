import Foundation
import Generation
import MathGrader
import Models
import Sandbox
import Tokenizers

/// Generates G tool-integrated trajectories for each problem of a batch at once.
///
/// All live sequences decode together in one `BatchDecoder`. When a sequence triggers a tool call it is parked
/// with its cache, its code goes to the executor as a task, and the other sequences keep stepping; between
/// steps finished calls are collected, their observation is tokenized on its own, appended to the parked
/// sequence (prefilled into its cache at its next step) and the sequence rejoins the batch. The loop waits for
/// the sandbox only when no sequence can step.
///
/// Not thread-safe: `run` drives the model, so one rollout runs at a time per model.
public final class RolloutEngine {
    public let model: InferenceModel
    public let tokenizer: Tokenizer
    public let prompts: PromptBuilder
    public let executor: CodeExecutor
    public let grader: MathGrader
    public var decoderConfiguration: BatchDecoder.Configuration

    public init(model: InferenceModel, tokenizer: Tokenizer, chatTemplate: ChatTemplate?, executor: CodeExecutor,
                grader: MathGrader = MathGrader(),
                decoderConfiguration: BatchDecoder.Configuration = BatchDecoder.Configuration()) {
        self.model = model
        self.tokenizer = tokenizer
        prompts = PromptBuilder(tokenizer: tokenizer, chatTemplate: chatTemplate)
        self.executor = executor
        self.grader = grader
        self.decoderConfiguration = decoderConfiguration
    }

    /// Trajectories ordered by problem, then sample. `observer` sees text, tool calls and finished
    /// trajectories as they happen. `isProblemCancelled(g)`, polled between decoder steps, stops decoding problem
    /// g's samples (finish reason `cancelled`) while the others go on: a batch shared by several requesters.
    /// `randomStreams[g]` is the random stream of problem g's first sample (sample i draws the next i-th); nil
    /// gives problem g stream g·G, so no two trajectories of one request share a stream. A batch of independent
    /// requests passes each request's own stream, so where the scheduler places a request never changes its text.
    public func run(problems: [Problem], settings: RolloutSettings, randomStreams: [UInt64]? = nil,
                    isProblemCancelled: ((Int) -> Bool)? = nil,
                    observer: ((RolloutEvent) -> Void)? = nil) async throws -> [Trajectory] {
        try await runMeasured(problems: problems, settings: settings, randomStreams: randomStreams,
                              isProblemCancelled: isProblemCancelled, observer: observer).trajectories
    }

    /// `run`, with where the time went: grading is the scoring of finished responses, sandbox the summed
    /// wall time of the tool calls (they overlap decoding), generation the rest of the run.
    public func runMeasured(problems: [Problem], settings: RolloutSettings, randomStreams: [UInt64]? = nil,
                            isProblemCancelled: ((Int) -> Bool)? = nil,
                            observer: ((RolloutEvent) -> Void)? = nil) async throws
        -> (trajectories: [Trajectory], timings: RolloutTimings) {
        try settings.validate()
        if let randomStreams, randomStreams.count != problems.count {
            throw RolloutError.invalidSettings("\(randomStreams.count) random streams for \(problems.count) problems")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        var batch = RolloutBatch(engine: self, settings: settings, observer: observer)
        batch.isProblemCancelled = isProblemCancelled
        try batch.start(problems, randomStreams: randomStreams)
        try await batch.decodeUntilDone()
        let trajectories = batch.trajectories()
        let totalSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let sandboxSeconds = trajectories.reduce(0) { $0 + $1.toolCalls.reduce(0) { $0 + $1.wallMs } } / 1000
        return (trajectories, RolloutTimings(generationSeconds: max(0, totalSeconds - batch.scoringSeconds),
                                             sandboxSeconds: sandboxSeconds, gradingSeconds: batch.scoringSeconds))
    }
}

/// The state of one `run`: the decoder, each stream's progress, the tool calls in flight.
private struct RolloutBatch {
    /// A tool call in flight: what was sampled when the stream parked.
    struct PendingCall {
        var code: String
        /// The sampled text of the turn, decoded from its tokens.
        var turnText: String
        var responseLengthAtPause: Int
    }

    final class StreamProgress {
        let key: TrajectoryKey
        let problem: Problem
        let promptLength: Int
        /// Index in the response of the current turn's first token (the first one after the last observation).
        var turnStart = 0
        var toolCalls: [ToolCallRecord] = []
        var pending: PendingCall?

        init(key: TrajectoryKey, problem: Problem, promptLength: Int) {
            self.key = key
            self.problem = problem
            self.promptLength = promptLength
        }
    }

    let settings: RolloutSettings
    let tokenizer: Tokenizer
    let executor: CodeExecutor
    let observer: ((RolloutEvent) -> Void)?
    let assembler: TrajectoryAssembler
    let prompts: PromptBuilder
    let decoder: BatchDecoder
    let inbox = ExecutionInbox()
    var progress: [StreamID: StreamProgress] = [:]
    var isProblemCancelled: ((Int) -> Bool)?
    /// Streams already told to stop (their finish event comes with the next step).
    var cancelledStreams: Set<StreamID> = []
    /// Tool calls of cancelled streams still running: nobody waits for them (their results are dropped).
    var abandonedCallsInFlight = 0
    var finished: [TrajectoryKey: Trajectory] = [:]
    var callsInFlight = 0
    /// Seconds spent turning finished sequences into graded trajectories.
    var scoringSeconds = 0.0

    init(engine: RolloutEngine, settings: RolloutSettings, observer: ((RolloutEvent) -> Void)?) {
        self.settings = settings
        tokenizer = engine.tokenizer
        executor = engine.executor
        self.observer = observer
        prompts = engine.prompts
        assembler = TrajectoryAssembler(tokenizer: engine.tokenizer,
                                        scorer: ResponseScorer(grader: settings.grader(over: engine.grader),
                                                               rewards: settings.rewards))
        decoder = BatchDecoder(model: engine.model, tokenizer: engine.tokenizer,
                               configuration: engine.decoderConfiguration)
    }

    mutating func start(_ problems: [Problem], randomStreams: [UInt64]?) throws {
        let groupSize = settings.groupSize
        for (group, problem) in problems.enumerated() {
            let prompt = try prompts.tokens(for: problem.problem, template: settings.template,
                                            instruction: settings.instruction)
            if prompt.count > settings.maxPromptTokens {
                for sample in 0..<groupSize {
                    let key = TrajectoryKey(group: group, sample: sample)
                    let assembler = assembler
                    record(score { assembler.unstarted(key: key, problem: problem, prompt: prompt,
                                                       finishReason: "prompt_too_long") }, key: key)
                }
                continue
            }
            let request = GenerationRequest(
                prompt: prompt, sampling: settings.sampling, maxNewTokens: settings.maxResponseTokens,
                // Sample i of problem g draws random stream g·G + i unless the caller keyed problem g's streams.
                samples: groupSize, randomStreamOffset: randomStreams?[group] ?? UInt64(group) &* UInt64(groupSize),
                stopStrings: settings.stopStrings, includeStopStringInText: true,
                pauseStrings: settings.maxToolCalls > 0 ? [settings.trigger.pauseString] : [])
            for (sample, stream) in try decoder.add(request).enumerated() {
                progress[stream] = StreamProgress(key: TrajectoryKey(group: group, sample: sample), problem: problem,
                                                  promptLength: prompt.count)
            }
        }
    }

    /// How long the loop waits on the sandbox before looking at cancellations again, when no stream can step.
    static let cancellationPollSeconds = 0.05

    /// Steps the decoder until every stream finished. Cancelling the calling task ends the run with
    /// `CancellationError` between two steps, or at once while the loop waits on the sandbox; a cancelled problem
    /// is seen within `cancellationPollSeconds` even then.
    mutating func decodeUntilDone() async throws {
        while true {
            try Task.checkCancellation()
            try cancelAbandonedProblems()
            for delivery in inbox.takeAll() { try insertObservation(delivery) }
            if decoder.hasRunnableWork {
                let events = try decoder.step()
                for event in events { try handle(event) }
                if !events.isEmpty { continue }
            }
            if callsInFlight > abandonedCallsInFlight {
                for delivery in await inbox.next(waitingAtMost: Self.cancellationPollSeconds) {
                    try insertObservation(delivery)
                }
            } else if decoder.liveStreamCount > 0 {
                throw RolloutError.stalled(liveStreams: decoder.liveStreamCount)
            } else {
                return
            }
        }
    }

    /// Stops the streams of problems whose requester went away; a tool call in flight for one of them finishes
    /// on its own and its result is dropped (the stream is gone by then).
    private mutating func cancelAbandonedProblems() throws {
        guard let isProblemCancelled else { return }
        for (id, stream) in progress where !cancelledStreams.contains(id) && isProblemCancelled(stream.key.group) {
            try decoder.cancel(id)
            cancelledStreams.insert(id)
            if stream.pending != nil { abandonedCallsInFlight += 1 }
        }
    }

    func trajectories() -> [Trajectory] {
        finished.keys.sorted().map { finished[$0]! }
    }

    // MARK: - Events

    private mutating func handle(_ event: DecodeEvent) throws {
        guard let stream = progress[event.stream] else { return }
        switch event.kind {
        case .sampled:
            if !event.textDelta.isEmpty { observer?(.text(stream.key, delta: event.textDelta, inserted: false)) }
        case .inserted:
            if !event.textDelta.isEmpty { observer?(.text(stream.key, delta: event.textDelta, inserted: true)) }
        case .paused:
            if !event.textDelta.isEmpty { observer?(.text(stream.key, delta: event.textDelta, inserted: false)) }
            try startToolCall(for: event.stream, stream)
        case .finished(let sequence):
            if !event.textDelta.isEmpty { observer?(.text(stream.key, delta: event.textDelta, inserted: false)) }
            progress[event.stream] = nil
            let assembler = assembler
            record(score { assembler.assemble(sequence, key: stream.key, problem: stream.problem,
                                              toolCalls: stream.toolCalls) }, key: stream.key)
        }
    }

    /// Builds (and grades) a trajectory, counting the time as scoring.
    private mutating func score(_ build: () -> Trajectory) -> Trajectory {
        let started = DispatchTime.now().uptimeNanoseconds
        let trajectory = build()
        scoringSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return trajectory
    }

    private mutating func record(_ trajectory: Trajectory, key: TrajectoryKey) {
        finished[key] = trajectory
        observer?(.finished(key, trajectory))
    }

    /// Sends the code of the current turn to the executor, or lets the stream go on when there is nothing to
    /// run: a fence that does not close a python block, an output marker without a block before it, or a
    /// trajectory that used its C calls.
    private mutating func startToolCall(for id: StreamID, _ stream: StreamProgress) throws {
        guard stream.toolCalls.count < settings.maxToolCalls else { return try decoder.resume(id) }
        let response = try decoder.transcript(of: id).response
        // Decoded from the turn's own tokens: no offset into the whole text can fall inside a character.
        let turn = String(decoding: response[stream.turnStart...].flatMap { tokenizer.bytes(of: $0.id) },
                          as: UTF8.self)
        guard let code = settings.trigger.codeToRun(inTurn: turn[...]) else {
            return try decoder.resume(id)
        }
        stream.pending = PendingCall(code: code, turnText: turn, responseLengthAtPause: response.count)
        callsInFlight += 1
        observer?(.toolCall(stream.key, index: stream.toolCalls.count, code: code))
        let executor = executor, inbox = inbox, limits = settings.executionLimits, streamNumber = id.rawValue
        Task {
            let result = await executor.execute(code, limits: limits)
            inbox.deliver(ExecutionInbox.Delivery(stream: streamNumber, result: result))
        }
    }

    /// Appends the observation tokens (cut to the response budget) and lets the stream rejoin the batch.
    private mutating func insertObservation(_ delivery: ExecutionInbox.Delivery) throws {
        callsInFlight -= 1
        let id = StreamID(delivery.stream)
        if cancelledStreams.contains(id) {
            // It was running when its stream was cancelled (no call starts after that): counted as abandoned.
            abandonedCallsInFlight -= 1
            return
        }
        guard let stream = progress[id], let pending = stream.pending else { return }
        stream.pending = nil
        let output = observationText(delivery.result, options: settings.observation)
        let inserted = ObservationLayout.insertedText(afterSampledText: pending.turnText[...], observation: output,
                                                      trigger: settings.trigger)
        let allIDs = tokenizer.encode(inserted, parseSpecial: false)
        let room = max(0, settings.maxResponseTokens - pending.responseLengthAtPause)
        let ids = Array(allIDs.prefix(room))
        try decoder.append(tokens: ids, to: id)
        try decoder.resume(id)
        let call = ToolCallRecord(code: pending.code, status: delivery.result.status, observation: inserted,
                                  output: output, wallMs: delivery.result.wallMs,
                                  tokenStart: stream.promptLength + pending.responseLengthAtPause,
                                  tokenCount: ids.count, truncated: ids.count < allIDs.count)
        stream.turnStart = pending.responseLengthAtPause + ids.count
        stream.toolCalls.append(call)
        observer?(.toolResult(stream.key, index: stream.toolCalls.count - 1, call: call))
    }
}
