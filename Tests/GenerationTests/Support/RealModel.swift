import Foundation
import XCTest
import Generation

/// The SmolLM2 GGUF the oracle was made from, loaded once per test process with f32 weights.
enum RealModel {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var path: String {
        ProcessInfo.processInfo.environment["TORL_MODEL"]
            ?? packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    nonisolated(unsafe) private static var cached: LoadedModel?

    static func load() throws -> LoadedModel {
        if let cached { return cached }
        guard FileManager.default.fileExists(atPath: path) else {
            throw RealModelMissing(description: "the model \(path) is missing (run `make setup` or set TORL_MODEL)")
        }
        let loaded = try LoadedModel.load(path: path, precision: .f32)
        cached = loaded
        return loaded
    }

    struct OraclePrompt {
        let name: String
        let ids: [Int32]
        let greedy32: [Int32]
        let top10: [TokenLogit]
    }

    static func oraclePrompts() throws -> [OraclePrompt] {
        let url = packageRoot.appendingPathComponent("Tests/Fixtures/smollm2_reference.json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let prompts = try XCTUnwrap(json["prompts"] as? [[String: Any]])
        return try prompts.map { prompt in
            let greedy = try XCTUnwrap(prompt["greedy_32"] as? [String: Any])
            let top10 = try XCTUnwrap(prompt["top10_last"] as? [[String: Any]])
            return OraclePrompt(
                name: try XCTUnwrap(prompt["name"] as? String),
                ids: try XCTUnwrap(prompt["prompt_ids"] as? [Int]).map(Int32.init),
                greedy32: try XCTUnwrap(greedy["ids"] as? [Int]).map(Int32.init),
                top10: try top10.map {
                    TokenLogit(id: Int32(try XCTUnwrap($0["id"] as? Int)), logit: Float(try XCTUnwrap($0["logit"] as? Double)))
                })
        }
    }
}

struct RealModelMissing: Error, CustomStringConvertible {
    let description: String
}
