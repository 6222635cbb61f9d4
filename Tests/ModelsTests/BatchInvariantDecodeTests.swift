import Foundation
import XCTest
@testable import Models
import Tensors

/// A decode row's logits do not depend on its batch (issue 11): the same bits alone and in batches of 2...8 at every
/// position of the batch, with work cut for 1, 2 and 16 threads, for each weight precision and key/value cache
/// format, on the kernel path of the run (`make test` runs this with the best path and with TORL_KERNELS=portable).
/// Before decode attention ran every head in one accumulation order, batches of 3, 4, 6 or 7 rows on 2 threads sent
/// some heads alone to a kernel with a different order.
final class BatchInvariantDecodeTests: XCTestCase {
    /// Short prompts of different lengths: the rows of a batch attend over different cache lengths.
    static let prompts: [[Int32]] = [[1, 504, 3000, 28, 9], [1, 77, 12, 4321], [1, 9001, 17, 256, 30, 45, 6], [1, 2]]
    static let nextToken: Int32 = 1400

    func testDecodeLogitsAreBitIdenticalAloneAndInEveryBatch() throws {
        guard FileManager.default.fileExists(atPath: TestSupport.modelPath) else {
            throw TestFailure("the model \(TestSupport.modelPath) is missing (run `make setup` or set TORL_MODEL)")
        }
        let source = try ModelLoader.load(path: TestSupport.modelPath, precision: .f32)
        let tensors = source.namedTensors()
        for precision in WeightPrecision.allCases {
            for format in [KeyValueFormat.f32, .f16] {
                let model: any InferenceModel = precision == .f32 && format == .f32 ? source
                    : try LlamaModel(configuration: source.configuration, tensors: tensors, precision: precision, cacheFormat: format)
                try checkBatchInvariance(model, label: "\(precision) weights, \(format) cache, \(KernelInfo.path) kernels")
            }
        }
    }

    /// Prefills one sequence per prompt, decodes `nextToken` after each alone, then in batches of B rows for every
    /// B in 2...8, row r holding prompt (r + shift) % 4 for shifts 0 and 1 (so every position holds more than one
    /// prompt, next to rows of other lengths): every row must equal its prompt's row alone.
    func checkBatchInvariance(_ model: any InferenceModel, label: String) throws {
        let prefilled = try Self.prompts.map { prompt in
            let sequence = try model.makeSequence()
            _ = try model.forward([ForwardStep(sequence: sequence, tokens: prompt)])
            return sequence
        }
        defer { prefilled.forEach(model.releaseSequence) }
        func decode(_ sources: [Int]) throws -> [[Float]] {
            let forks = try sources.map { try model.forkSequence(prefilled[$0]) }
            defer { forks.forEach(model.releaseSequence) }
            let batch = try model.forward(forks.map { ForwardStep(sequence: $0, tokens: [Self.nextToken]) })
            return sources.indices.map { Array(batch.row($0)) }
        }
        let alone = try ComputePool.withTasksPlanned(forThreads: 1) { try Self.prompts.indices.map { try decode([$0])[0] } }
        for threads in [1, 2, 16] {
            try ComputePool.withTasksPlanned(forThreads: threads) {
                for B in 2...8 {
                    for shift in 0..<2 {
                        let sources = (0..<B).map { ($0 + shift) % Self.prompts.count }
                        for (p, row) in try decode(sources).enumerated() {
                            let expected = alone[sources[p]]
                            XCTAssertTrue(row.elementsEqual(expected) { $0.bitPattern == $1.bitPattern },
                                          "\(label): prompt \(sources[p]) as row \(p) of \(B), \(threads) threads, largest difference \(TestSupport.maxAbsDifference(row, expected))")
                        }
                    }
                }
            }
        }
    }
}
