import Foundation
import Models
import Tensors
import XCTest
@testable import RL

final class CheckpointTests: XCTestCase {
    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("torl-training-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Save after two steps, go on for two; restore and go on for two: the same weights, moments and metrics.
    func testRestoredTrainingContinuesIdentically() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/step.safetensors"
        var configuration = ToyTask.trainerConfiguration
        configuration.loss.klCoefficient = 0.05
        configuration.schedule = .warmupCosine(peak: 2e-2, warmupSteps: 2, totalSteps: 6, minimumRatio: 0.1)
        let policy = try TrainableTransformer(configuration: ToyTask.configuration())
        policy.initializeRandomly(seed: 5, standardDeviation: 0.1)
        let trainer = try GRPOTrainer(policy: policy, configuration: configuration)
        var random = SeededGenerator(seed: 77)
        func run(_ trainer: GRPOTrainer, _ random: inout SeededGenerator, steps: Int) throws -> [StepMetrics] {
            try (0..<steps).map { _ in
                try trainer.step(try ToyTask.rollout(trainer.policy, prompts: [1, 2], samplesPerPrompt: 4,
                                                     generator: &random))
            }
        }
        _ = try run(trainer, &random, steps: 2)
        try Checkpoint.save(trainer, randomState: random.state, to: path)
        let continued = try run(trainer, &random, steps: 2)

        var (restored, restoredRandom) = try Checkpoint.restore(from: path)
        XCTAssertEqual(restored.step, 2)
        XCTAssertEqual(restored.configuration, configuration)
        XCTAssertNotNil(restored.reference)
        let resumed = try run(restored, &restoredRandom, steps: 2)
        XCTAssertEqual(resumed.map(\.loss), continued.map(\.loss))
        XCTAssertEqual(resumed.map(\.learningRate), continued.map(\.learningRate))
        XCTAssertEqual(restored.policy.parameters.array(), trainer.policy.parameters.array())
        XCTAssertEqual(restored.optimizer.secondMoment.array(), trainer.optimizer.secondMoment.array())
        XCTAssertEqual(restored.reference!.parameters.array(), trainer.reference!.parameters.array())
        XCTAssertEqual(restoredRandom, random)
    }

    func testAnInterruptedWriteLeavesThePreviousFileAndBadFilesAreTypedErrors() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/checkpoint.safetensors"
        let trainer = try GRPOTrainer(policy: try TinyModels.model(TinyModels.configuration()), configuration: .init())
        try Checkpoint.save(trainer, randomState: SeededGenerator(seed: 1).state, to: path)
        let saved = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            // A writer that dies before commit (as in a crash mid-write).
            let writer = try AtomicFileWriter(destination: path)
            try writer.write(Data(repeating: 0xAB, count: 100))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), saved)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["checkpoint.safetensors"])

        try saved.prefix(saved.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.restore(from: path)) { XCTAssertTrue($0 is ModelFormatError, "\($0)") }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.restore(from: path))
        XCTAssertThrowsError(try Checkpoint.restore(from: directory + "/absent"))
        let plain = directory + "/plain.safetensors"
        try [Float(1)].withUnsafeBufferPointer {
            try SafetensorsWriter.write([.init(name: "x", shape: [1], values: $0)], metadata: [:], to: plain)
        }
        XCTAssertThrowsError(try Checkpoint.restore(from: plain)) {
            XCTAssertEqual($0 as? TrainingFileError, .invalidCheckpoint(path: plain, detail: "no torl.checkpoint metadata"))
        }
    }

    /// A written file has the mode open(2) would give it (0666 less the umask), not mkstemp's 0600: exported
    /// models and checkpoints are read by other users, containers and servers.
    func testWrittenFilesGetTheUmaskMode() throws {
        let directory = try temporaryDirectory()
        for (mask, expected) in [(mode_t(0o022), mode_t(0o644)), (0o027, 0o640), (0o077, 0o600)] {
            let previous = umask(mask)
            defer { umask(previous) }
            let path = directory + "/file-\(String(mask, radix: 8))"
            let writer = try AtomicFileWriter(destination: path)
            try writer.write(Data([1, 2, 3]))
            try writer.commit()
            var info = stat()
            XCTAssertEqual(stat(path, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, expected, "umask \(String(mask, radix: 8))")
        }
    }

    /// The exported folder loads in the engine (its Hugging Face loader) with the same logits, for both RoPE
    /// pairings (adjacent weights are permuted to Hugging Face's halves), and numpy reads the safetensors file.
    func testHuggingFaceExportLoadsWithTheSameLogits() throws {
        let directory = try temporaryDirectory()
        let tokenizer = directory + "/tokenizer.json"
        try Data("{\"model\": {}}".utf8).write(to: URL(fileURLWithPath: tokenizer))
        let tokens: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6]
        for (index, configuration) in [TinyModels.configuration(tied: true, bias: false, pairing: .adjacent),
                                       TinyModels.configuration(tied: false, bias: true, pairing: .halves)].enumerated() {
            let policy = try TinyModels.model(configuration)
            let folder = directory + "/export\(index)"
            try policy.exportHuggingFace(to: folder, tokenizerFiles: [tokenizer])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(),
                           ["config.json", "model.safetensors", "tokenizer.json"])
            let loaded = try ModelLoader.load(path: folder)
            XCTAssertEqual(loaded.configuration.ropePairing, .halves)
            let sequence = try loaded.makeSequence()
            let engineLogits = try loaded.forward([ForwardStep(sequence: sequence, tokens: tokens,
                                                               logitsForAllTokens: true)]).values
            let trainingLogits = try policy.logits(try policy.forward(PackedSequences([tokens])),
                                                   rows: Array(tokens.indices))
            for (a, b) in zip(engineLogits, trainingLogits) { XCTAssertEqual(a, b, accuracy: 1e-4) }
            XCTAssertThrowsError(try policy.exportHuggingFace(to: folder)) {
                XCTAssertEqual($0 as? TrainingFileError, .destinationNotEmpty(path: folder))
            }
        }
        try assertNumpyReads(folder: directory + "/export1")
    }

    private func assertNumpyReads(folder: String) throws {
        let python = ProcessInfo.processInfo.environment["TORL_PYTHON"] ?? "python3"
        let script = """
        import json, struct, sys, numpy as np
        data = open(sys.argv[1] + "/model.safetensors", "rb").read()
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        info = header["model.norm.weight"]
        a, b = info["data_offsets"]
        values = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
        config = json.load(open(sys.argv[1] + "/config.json"))
        print(config["model_type"], config["num_hidden_layers"], " ".join(repr(float(v)) for v in values))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script, folder]
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch { return XCTFail("cannot start python \(python) (set TORL_PYTHON): \(error)") }
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python \(python) failed to read the export")
        let words = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(whereSeparator: \.isWhitespace)
        let policy = try TinyModels.model(TinyModels.configuration(tied: false, bias: true, pairing: .halves))
        let expected = policy.namedTensors()["model.norm.weight"]!.values
        XCTAssertEqual(words.prefix(2), ["qwen2", "2"])
        XCTAssertEqual(words.dropFirst(2).compactMap { Float(String($0)) }, expected)
    }
}
