import Foundation
import XCTest
@testable import Models

/// Paths and shared fixtures of the Models tests.
enum TestSupport {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var modelPath: String {
        ProcessInfo.processInfo.environment["TORL_MODEL"]
            ?? packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    /// Gemma 3 270M (Q4_K_M GGUF): TORL_GEMMA_MODEL, else models/gemma-3-270m-q4_k_m.gguf.
    static var gemmaModelPath: String {
        ProcessInfo.processInfo.environment["TORL_GEMMA_MODEL"]
            ?? packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    }

    /// Skips the test (saying how to get the file) when the Gemma 3 model is absent.
    static func requireGemmaModel() throws -> String {
        let path = gemmaModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("Gemma 3 270M is not at \(path) (set TORL_GEMMA_MODEL or install it with the project's setup)")
        }
        return path
    }

    /// The Python interpreter with numpy: TORL_PYTHON, else python3 on PATH.
    static var python: String { ProcessInfo.processInfo.environment["TORL_PYTHON"] ?? "python3" }

    static func fixture(_ name: String) -> URL { packageRoot.appendingPathComponent("Tests/Fixtures/\(name)") }

    /// Runs the Python file `file` (relative to the package root) with `arguments`; fails the test with stderr when
    /// it exits non-zero.
    static func runPython(file: String, arguments: [String]) throws {
        try runPython(arguments: [packageRoot.appendingPathComponent(file).path] + arguments)
    }

    private static func runPython(arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch {
            throw TestFailure("cannot start python \(python): \(error)")
        }
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw TestFailure("python (\(python)) failed with status \(process.terminationStatus): \(message)")
        }
    }

    static func readFloats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
    }

    static func maxAbsDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float where A.Element == Float, B.Element == Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    static func argmax<S: Collection>(_ row: S) -> Int where S.Element == Float, S.Index == Int {
        var best = row.startIndex
        for i in row.indices where row[i] > row[best] { best = i }
        return best - row.startIndex
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension XCTestCase {
    /// Fresh empty directory for this test's files, removed when the test ends (pass or fail), so repeated test
    /// runs leave nothing in the temporary directory.
    func temporaryDirectory() throws -> URL {
        let url = try Self.newTemporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Fresh empty directory that outlives the test: for a fixture shared by a class's tests, which removes it in
    /// its class `tearDown`.
    static func newTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("torl-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
