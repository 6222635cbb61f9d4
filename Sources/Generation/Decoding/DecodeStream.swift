import Models

/// The mutable state of one stream inside a `BatchDecoder`.
final class DecodeStream {
    enum Phase {
        /// Its request has not been prefilled yet.
        case waiting
        case decoding
        case paused
    }

    let id: StreamID
    let sampleIndex: Int
    let request: GenerationRequest
    let endOfSequenceIDs: Set<Int32>
    var phase: Phase = .waiting
    var modelSequence: SequenceID?
    var response: [ResponseToken] = []
    /// Tokens of the prompt or response that are not in the model's cache yet: the last sampled token, plus any
    /// inserted tokens of a paused stream.
    var pendingInput: [Int32]
    var random: RandomStream
    var text: ResponseText
    var promptTopLogits: [TokenLogit] = []

    init(id: StreamID, sampleIndex: Int, request: GenerationRequest, endOfSequenceIDs: Set<Int32>) {
        self.id = id
        self.sampleIndex = sampleIndex
        self.request = request
        self.endOfSequenceIDs = endOfSequenceIDs
        pendingInput = request.prompt
        random = RandomStream(seed: request.sampling.seed,
                              stream: request.randomStreamOffset &+ UInt64(sampleIndex))
        let cutStops = request.includeStopStringInText ? [] : request.stopStrings
        text = ResponseText(stops: request.stopStrings + request.pauseStrings, heldBack: cutStops)
    }

    /// The stop string (finish) or pause string behind a match of `text.stops`.
    enum StopKind {
        case finish(String)
        case pause(String)
    }

    func stopKind(ofPattern index: Int) -> StopKind {
        index < request.stopStrings.count
            ? .finish(request.stopStrings[index])
            : .pause(request.pauseStrings[index - request.stopStrings.count])
    }

    func transcript(finishReason: FinishReason?) -> GeneratedSequence {
        GeneratedSequence(stream: id, sampleIndex: sampleIndex, prompt: request.prompt, response: response,
                          text: text.text, finishReason: finishReason, promptTopLogits: promptTopLogits)
    }
}
