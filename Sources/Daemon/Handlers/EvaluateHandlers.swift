import Foundation
import Generation
import JSONRPC
import RL
import SystemSupport
import TorlProtocol

extension Daemon {
    func registerEvaluate(on router: Router) {
        router.register(EvaluateRequest.self) { [self] params, context in
            var problems: [Problem]
            switch (params.dataset, params.problems) {
            case (let path?, nil): problems = try ProblemSet.load(path: path)
            case (nil, let given?) where !given.isEmpty: problems = given.enumerated().map { $1.problem(at: $0) }
            default: throw RPCError.invalidParams(field: "dataset", reason: "give exactly one of dataset (a JSONL path) or problems")
            }
            if let limit = params.limit {
                guard limit >= 1 else { throw RPCError.invalidParams(field: "limit", reason: "must be >= 1") }
                problems = Array(problems.prefix(limit))
            }
            let samples = params.samples ?? 1
            guard samples >= 1 else { throw RPCError.invalidParams(field: "samples", reason: "must be >= 1") }
            // Greedy for one sample (the published evaluation); temperature 1 when k samples are asked for.
            var defaults = solveDefaults()
            defaults.maxResponseTokens = 3072
            if samples > 1 { defaults.sampling.temperature = 1 }
            var settings = try params.options.settings(over: defaults)
            settings.groupSize = samples
            var decoder = BatchDecoder.Configuration()
            if let batch = params.batch {
                guard batch >= 1 else { throw RPCError.invalidParams(field: "batch", reason: "must be >= 1") }
                decoder.maximumStreams = batch
            }
            let streams = try ProblemIndices.randomStreams(params.problem_indices, problemCount: problems.count,
                                                           groupSize: samples)
            let runSettings = settings, runProblems = problems, decoderConfiguration = decoder
            let writer = try params.output.map { try RecordWriter(path: $0) }
            let token = params.progress_token
            let summary = try await scheduler.exclusive("evaluate") { [self] in
                // Graded responses so far, so a client can show a running accuracy next to the count.
                var correct = 0, graded = 0
                return try await Evaluator(engine: try makeEngine(decoderConfiguration: decoderConfiguration)).run(
                    problems: runProblems, settings: runSettings, randomStreams: streams,
                    onRecord: { record in
                        correct += record.correct
                        graded += record.responses.count
                        try writer?.write(record)
                    },
                    onProgress: { done, total in
                        let report = ProgressReport(message: "responses", done: done, total: total,
                                                    metrics: ["correct": Double(correct), "graded": Double(graded)])
                        context.progress(report, token: token)
                    })
            }
            try writer?.close()
            return EvaluateResult(problems: summary.problems, metrics: summary.metrics, output: params.output)
        }
    }
}

/// Per-problem records as JSON lines, written as each problem finishes so an interrupted run keeps its work.
final class RecordWriter: @unchecked Sendable {
    private let handle: FileHandle
    let path: String

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw RPCError.invalidParams(field: "output", reason: "cannot create \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    func write<T: Encodable>(_ record: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        try handle.write(contentsOf: line)
    }

    func close() throws { try handle.close() }
}
