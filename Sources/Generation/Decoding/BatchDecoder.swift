import Models
import Tokenizers

/// Continuous batching on an `InferenceModel`.
///
/// Requests may be added at any time. Each `step()` makes ONE forward call holding the prompts admitted this
/// step (prefill; G samples of a request share it through `forkSequence`) and the pending tokens of every
/// decoding stream (one sampled token, or inserted tokens plus the last sampled one after a resume), samples one
/// token per stream, and reports what happened as events. Finished streams release their cache.
///
/// Tool use: a pause string (or `pause(_:)`) parks a stream with its cache; `append(tokens:to:)` queues
/// inserted tokens (not sampled: no log-probability, excluded from the loss) and `resume(_:)` lets it rejoin
/// decoding; the rest of the batch keeps decoding meanwhile.
///
/// Not thread-safe: one owner (the daemon's compute thread, a rollout loop) drives it.
public final class BatchDecoder {
    public struct Configuration: Sendable {
        /// Streams decoding or paused at once; further requests wait (a request larger than this runs alone).
        public var maximumStreams: Int
        /// Prompt tokens prefilled in one step beyond the first admitted prompt.
        public var maximumPrefillTokensPerStep: Int
        public init(maximumStreams: Int = 64, maximumPrefillTokensPerStep: Int = 4096) {
            self.maximumStreams = maximumStreams
            self.maximumPrefillTokensPerStep = maximumPrefillTokensPerStep
        }
    }

    public let model: InferenceModel
    public let tokenizer: Tokenizer
    public let configuration: Configuration
    private var streams: [StreamID: DecodeStream] = [:]
    /// Admitted streams in the order they were added: forward steps and events follow it.
    private var admittedOrder: [StreamID] = []
    /// Requests not prefilled yet, first come first served; each entry holds one request's streams.
    private var waitingGroups: [[StreamID]] = []
    private var queuedEvents: [DecodeEvent] = []
    private var nextStreamNumber = 0
    private var sampler = TokenSampler()

    public init(model: InferenceModel, tokenizer: Tokenizer, configuration: Configuration = Configuration()) {
        self.model = model
        self.tokenizer = tokenizer
        self.configuration = configuration
    }

    /// The decoder owns the cache sequences of its streams: however its owner leaves (a return, a thrown error, a
    /// cancelled task), dropping the decoder gives them back to the model, which refuses new weights while any
    /// sequence is cached. Runs on the thread that drops the last reference: the owner's, which holds the model.
    deinit { abandonAllStreams() }

    /// Ends every live stream now (waiting, decoding or paused), releasing its cache; no events are reported for
    /// them and queued events are dropped. For an owner that gives up on a run but keeps the decoder.
    public func abandonAllStreams() {
        for state in streams.values {
            if let sequence = state.modelSequence { model.releaseSequence(sequence) }
            state.modelSequence = nil
        }
        streams = [:]
        admittedOrder = []
        waitingGroups = []
        queuedEvents = []
    }

    /// Streams that a `step()` would advance, or events waiting to be reported. Paused streams do not count:
    /// they wait for their owner.
    public var hasRunnableWork: Bool {
        !queuedEvents.isEmpty || !waitingGroups.isEmpty || streams.values.contains { $0.phase == .decoding }
    }

    /// Streams added and not finished (waiting, decoding or paused).
    public var liveStreamCount: Int { streams.count }

    /// Queues a request; returns one stream per sample. The prompt is prefilled in a coming `step()`.
    @discardableResult
    public func add(_ request: GenerationRequest) throws -> [StreamID] {
        let vocabularySize = model.configuration.vocabularySize
        try request.validate(vocabularySize: vocabularySize, contextLength: model.configuration.contextLength)
        let endOfSequence = request.endOfSequenceIDs ?? tokenizer.endOfSequenceIDs
        let group = (0..<request.samples).map { sampleIndex -> StreamID in
            let id = StreamID(nextStreamNumber)
            nextStreamNumber += 1
            streams[id] = DecodeStream(id: id, sampleIndex: sampleIndex, request: request,
                                       endOfSequenceIDs: endOfSequence)
            return id
        }
        waitingGroups.append(group)
        return group
    }

    /// The stream's prompt, response and text so far.
    public func transcript(of stream: StreamID) throws -> GeneratedSequence {
        try state(of: stream).transcript(finishReason: nil)
    }

    /// Parks a decoding stream between steps (its pending token stays queued for the resume).
    public func pause(_ stream: StreamID) throws {
        let state = try state(of: stream)
        guard state.phase == .decoding else { throw GenerationError.streamNotDecoding(stream) }
        state.phase = .paused
    }

    /// Appends inserted tokens (e.g. a tool observation) to a paused stream. They are prefilled into its cache
    /// when it resumes; the `.inserted` event with their text comes with the next `step()`.
    public func append(tokens: [Int32], to stream: StreamID) throws {
        let state = try state(of: stream)
        guard state.phase == .paused else { throw GenerationError.streamNotPaused(stream) }
        let vocabularySize = model.configuration.vocabularySize
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw GenerationError.tokenOutOfVocabulary(token: bad, vocabularySize: vocabularySize)
        }
        guard !tokens.isEmpty else { return }
        state.response.append(contentsOf: tokens.map { ResponseToken(id: $0, logprob: nil) })
        state.pendingInput.append(contentsOf: tokens)
        let delta = state.text.appendInserted(tokens.flatMap { tokenizer.bytes(of: $0) })
        queuedEvents.append(DecodeEvent(stream: stream, kind: .inserted(tokens), textDelta: delta))
    }

    /// Lets a paused stream rejoin decoding at the next step. `keepPauseStrings: false` stops watching the
    /// request's pause strings for this stream (e.g. once the tool-call budget is spent); its stop strings stay.
    public func resume(_ stream: StreamID, keepPauseStrings: Bool = true) throws {
        let state = try state(of: stream)
        guard state.phase == .paused else { throw GenerationError.streamNotPaused(stream) }
        if !keepPauseStrings { state.text.replaceStops(with: state.request.stopStrings) }
        state.phase = .decoding
    }

    /// Finishes a stream now (reason `.cancelled`); its event comes with the next `step()`.
    public func cancel(_ stream: StreamID) throws {
        let state = try state(of: stream)
        if state.phase == .waiting {
            waitingGroups = waitingGroups.map { $0.filter { $0 != stream } }.filter { !$0.isEmpty }
        }
        queuedEvents.append(finish(state, reason: .cancelled, cuttingTextAt: nil))
    }

    /// Steps until no stream can advance; returns the finished sequences ordered by stream. Paused streams stay.
    public func runUntilIdle() throws -> [GeneratedSequence] {
        var finished: [GeneratedSequence] = []
        while hasRunnableWork {
            let events = try step()
            // Every forward call yields events, so none means only paused or unadmittable streams are left.
            if events.isEmpty { break }
            for event in events {
                if case .finished(let sequence) = event.kind { finished.append(sequence) }
            }
        }
        return finished.sorted { $0.stream < $1.stream }
    }

    /// One forward call over every stream that can advance; returns the events in stream order.
    public func step() throws -> [DecodeEvent] {
        var events = queuedEvents
        queuedEvents.removeAll()

        for id in admittedOrder {
            guard let state = streams[id], state.phase == .decoding,
                  let reason = budgetExhaustion(of: state) else { continue }
            events.append(finish(state, reason: reason, cuttingTextAt: nil))
        }

        let admitted = try admitWaitingGroups()
        var forwardSteps: [ForwardStep] = []
        var rowOwners: [[StreamID]] = []
        for group in admitted {
            let leader = streams[group[0]]!
            forwardSteps.append(ForwardStep(sequence: leader.modelSequence!, tokens: leader.pendingInput))
            rowOwners.append(group)
        }
        for id in admittedOrder {
            guard let state = streams[id], state.phase == .decoding, let sequence = state.modelSequence,
                  !state.pendingInput.isEmpty else { continue }
            forwardSteps.append(ForwardStep(sequence: sequence, tokens: state.pendingInput))
            rowOwners.append([id])
        }
        guard !forwardSteps.isEmpty else { return events }

        let logits: LogitsBatch
        do {
            logits = try model.forward(forwardSteps)
            try checkShape(of: logits, stepCount: forwardSteps.count)
        } catch {
            undoAdmission(admitted)
            throw error
        }

        for (row, owners) in zip(logits.rowRanges.map { $0.upperBound - 1 }, rowOwners) {
            let isPrefill = streams[owners[0]]!.phase == .waiting
            if isPrefill {
                events.append(contentsOf: startGroup(owners, promptLogitsRow: row, logits: logits))
            } else {
                let state = streams[owners[0]]!
                state.pendingInput.removeAll()
                events.append(contentsOf: sampleNextToken(for: state, row: row, logits: logits))
            }
        }
        return events
    }

    // MARK: - Scheduling

    /// Moves waiting requests into the batch while streams and prefill budget allow, giving each a cache
    /// sequence. When the model has no room for another sequence the request keeps waiting for running streams
    /// to finish; with nothing running that would never happen, so the model's error is thrown.
    private func admitWaitingGroups() throws -> [[StreamID]] {
        var admitted: [[StreamID]] = []
        var streamCount = streams.values.filter { $0.phase != .waiting }.count
        var prefillBudget = configuration.maximumPrefillTokensPerStep
        while let group = waitingGroups.first {
            let leader = streams[group[0]]!
            let promptLength = leader.request.prompt.count
            let fitsStreams = streamCount + group.count <= configuration.maximumStreams || streamCount == 0
            let fitsPrefill = admitted.isEmpty || promptLength <= prefillBudget
            guard fitsStreams, fitsPrefill else { break }
            do {
                leader.modelSequence = try model.makeSequence()
            } catch {
                if streamCount == 0 { throw error }
                break
            }
            waitingGroups.removeFirst()
            admitted.append(group)
            admittedOrder.append(contentsOf: group)
            streamCount += group.count
            prefillBudget -= promptLength
        }
        return admitted
    }

    /// Puts groups back at the head of the queue after a failed forward call; nothing reached the cache.
    private func undoAdmission(_ admitted: [[StreamID]]) {
        for group in admitted {
            let leader = streams[group[0]]!
            if let sequence = leader.modelSequence { model.releaseSequence(sequence) }
            leader.modelSequence = nil
        }
        let admittedIDs = Set(admitted.joined())
        admittedOrder.removeAll { admittedIDs.contains($0) }
        waitingGroups.insert(contentsOf: admitted, at: 0)
    }

    /// Shares the leader's prefilled cache with the group's other samples and samples each one's first token.
    private func startGroup(_ group: [StreamID], promptLogitsRow row: Int, logits: LogitsBatch) -> [DecodeEvent] {
        let leader = streams[group[0]]!
        let prefilled = leader.modelSequence!
        let request = leader.request
        // A non-finite row finishes the streams when they sample from it; the report is just left empty.
        let promptTopLogits = (try? withRow(row, of: logits) {
            try TokenSampler.topLogits($0, count: request.promptTopLogitCount)
        }) ?? []
        var events: [DecodeEvent] = []
        for (position, id) in group.enumerated() {
            let state = streams[id]!
            state.phase = .decoding
            state.pendingInput.removeAll()
            state.promptTopLogits = promptTopLogits
            if request.maxNewTokens == 0 {
                if position > 0 { state.modelSequence = nil }
                events.append(finish(state, reason: .maxTokens, cuttingTextAt: nil))
                continue
            }
            if position > 0 {
                do {
                    state.modelSequence = try model.forkSequence(prefilled)
                } catch {
                    // The cache is full: the remaining samples wait and prefill their prompt on their own later.
                    let unstarted = Array(group[position...])
                    for waitingID in unstarted {
                        let waiting = streams[waitingID]!
                        waiting.phase = .waiting
                        waiting.pendingInput = request.prompt
                    }
                    admittedOrder.removeAll { unstarted.contains($0) }
                    waitingGroups.insert(unstarted, at: 0)
                    break
                }
            }
            events.append(contentsOf: sampleNextToken(for: state, row: row, logits: logits))
        }
        return events
    }

    // MARK: - Sampling and stopping

    /// Samples the stream's next token from its logits row and applies the stop conditions. A row holding NaN
    /// or +infinity finishes the stream (`.invalidLogits`) instead of failing the whole batch.
    private func sampleNextToken(for state: DecodeStream, row: Int, logits: LogitsBatch) -> [DecodeEvent] {
        let sampled: SampledToken
        do {
            sampled = try withRow(row, of: logits) {
                try sampler.sample(logits: $0, parameters: state.request.sampling, random: &state.random)
            }
        } catch {
            return [finish(state, reason: .invalidLogits, cuttingTextAt: nil)]
        }
        state.response.append(ResponseToken(id: sampled.id, logprob: sampled.logprob))
        state.pendingInput = [sampled.id]
        let isEndOfSequence = state.endOfSequenceIDs.contains(sampled.id)
        let (delta, match) = state.text.appendSampled(isEndOfSequence ? [] : tokenizer.bytes(of: sampled.id))
        var events = [DecodeEvent(stream: state.id, kind: .sampled(sampled), textDelta: delta)]

        if isEndOfSequence {
            events.append(finish(state, reason: .endOfSequence(token: sampled.id), cuttingTextAt: nil))
        } else if let match {
            switch state.stopKind(ofPattern: match.pattern) {
            case .finish(let stopString):
                let included = state.request.includeStopStringInText
                events.append(finish(state, reason: .stopString(stopString, includedInText: included),
                                     cuttingTextAt: included ? match.range.upperBound : match.range.lowerBound))
            case .pause(let pauseString):
                state.phase = .paused
                events.append(DecodeEvent(stream: state.id, kind: .paused(pauseString: pauseString),
                                          textDelta: state.text.releaseAll()))
            }
        } else if let reason = budgetExhaustion(of: state) {
            events.append(finish(state, reason: reason, cuttingTextAt: nil))
        }
        return events
    }

    /// Why a decoding stream cannot take another step: its response is at the limit, or its pending tokens
    /// would not fit the context.
    private func budgetExhaustion(of state: DecodeStream) -> FinishReason? {
        if state.response.count >= state.request.maxNewTokens { return .maxTokens }
        if let sequence = state.modelSequence,
           model.length(of: sequence) + state.pendingInput.count > model.configuration.contextLength {
            return .contextFull
        }
        return nil
    }

    private func finish(_ state: DecodeStream, reason: FinishReason, cuttingTextAt cut: Int?) -> DecodeEvent {
        let delta = state.text.finish(cuttingAt: cut)
        if let sequence = state.modelSequence { model.releaseSequence(sequence) }
        state.modelSequence = nil
        streams[state.id] = nil
        admittedOrder.removeAll { $0 == state.id }
        return DecodeEvent(stream: state.id, kind: .finished(state.transcript(finishReason: reason)), textDelta: delta)
    }

    // MARK: - Helpers

    private func state(of stream: StreamID) throws -> DecodeStream {
        guard let state = streams[stream] else { throw GenerationError.unknownStream(stream) }
        return state
    }

    private func checkShape(of logits: LogitsBatch, stepCount: Int) throws {
        let expected = model.configuration.vocabularySize
        guard logits.vocabularySize == expected else {
            throw GenerationError.vocabularyMismatch(logits: logits.vocabularySize, configuration: expected)
        }
        let rowCount = logits.values.count / max(expected, 1)
        guard logits.rowRanges.count == stepCount,
              logits.rowRanges.allSatisfy({ !$0.isEmpty && $0.upperBound <= rowCount }) else {
            throw GenerationError.malformedLogits(
                "expected one non-empty row range per step (\(stepCount)) within \(rowCount) rows, got \(logits.rowRanges)")
        }
    }

    private func withRow<Result>(_ row: Int, of logits: LogitsBatch,
                                 _ body: (UnsafeBufferPointer<Float>) throws -> Result) rethrows -> Result {
        try logits.values.withUnsafeBufferPointer { all in
            let size = logits.vocabularySize
            return try body(UnsafeBufferPointer(rebasing: all[(row * size)..<((row + 1) * size)]))
        }
    }
}
