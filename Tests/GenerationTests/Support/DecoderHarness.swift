import XCTest
@testable import Generation

/// Reference computations straight from the fake model's definition, independent of the decoder.
enum Reference {
    static func argmax(_ row: [Float]) -> Int32 {
        var best = 0
        for index in row.indices where row[index] > row[best] { best = index }
        return Int32(best)
    }

    static func logSoftmax(_ row: [Float], at index: Int32, temperature: Double = 1) -> Float {
        let scaled = row.map { Double($0) / temperature }
        let maximum = scaled.max()!
        let logMass = log(scaled.reduce(0) { $0 + exp($1 - maximum) }) + maximum
        return Float(scaled[Int(index)] - logMass)
    }
}

extension BatchDecoder {
    /// Steps to completion, collecting each stream's text deltas in order.
    func runCollectingDeltas() throws -> (results: [StreamID: GeneratedSequence], deltas: [StreamID: String],
                                         events: [[DecodeEvent]]) {
        var results: [StreamID: GeneratedSequence] = [:]
        var deltas: [StreamID: String] = [:]
        var steps: [[DecodeEvent]] = []
        while hasRunnableWork {
            let events = try step()
            if events.isEmpty { break }
            steps.append(events)
            for event in events {
                deltas[event.stream, default: ""] += event.textDelta
                if case .finished(let sequence) = event.kind { results[event.stream] = sequence }
            }
        }
        return (results, deltas, steps)
    }
}

/// A fake model that writes `script` (token ids) after any prompt of `promptLength`, then random tokens.
func scriptedModel(promptLength: Int, script: [Int32], contextLength: Int = 512) -> FakeInferenceModel {
    let model = FakeInferenceModel(vocabularySize: 64, contextLength: contextLength)
    model.favour = { history in
        let position = history.count - promptLength
        return position >= 0 && position < script.count ? script[position] : nil
    }
    return model
}
