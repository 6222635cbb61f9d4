import Foundation
import XCTest
@testable import Models

/// Every dequantizable ggml type against the `gguf` PyPI package's `gguf.quants.dequantize` (a NumPy port of
/// ggml's dequantizers): random blocks, and real tensors of the Gemma 3 270M file.
/// Fixture: Tests/Fixtures/dequantize_reference.json, made by Tests/Fixtures/make_dequantize_fixtures.py.
final class DequantizeReferenceTests: XCTestCase {
    func reference() throws -> [String: Any] {
        let data = try Data(contentsOf: TestSupport.fixture("dequantize_reference.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func type(named name: String) throws -> GGMLType {
        try XCTUnwrap(GGMLType.allCases.first { $0.name == name }, "unknown type \(name) in the fixture")
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    func floats(_ value: Any?) throws -> [Float] { try XCTUnwrap(value as? [Double]).map { Float($0) } }

    func testRandomBlocksOfEveryTypeMatchGGUFBitForBit() throws {
        let cases = try XCTUnwrap(reference()["random"] as? [[String: Any]])
        var covered = Set<GGMLType>()
        for entry in cases {
            let type = try type(named: try XCTUnwrap(entry["type"] as? String))
            let count = try XCTUnwrap(entry["count"] as? Int)
            let bytes = Self.bytes(hex: try XCTUnwrap(entry["bytes_hex"] as? String))
            let expected = try floats(entry["expected"])
            let decoded = try bytes.withUnsafeBytes { try Dequantize.toFloat32($0, type: type, count: count) }
            let mismatches = zip(decoded, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
            XCTAssertTrue(mismatches.isEmpty, "\(type.name): \(mismatches.count) of \(count) elements differ, first at \(mismatches.first.map { "\($0.offset): \($0.element)" } ?? "")")
            covered.insert(type)
        }
        XCTAssertEqual(covered, Dequantize.supportedTypes, "the fixture covers every supported type")
    }

    func testRealTensorsOfTheGemmaFileMatchGGUF() throws {
        let path = try TestSupport.requireGemmaModel()
        let gguf = try GGUFFile(path: path)
        let cases = try XCTUnwrap(reference()["real"] as? [[String: Any]])
        XCTAssertEqual(Set(try cases.map { try type(named: $0["type"] as! String) }), [.f32, .q5_0, .q8_0, .q4_K, .q6_K])
        for entry in cases {
            let name = try XCTUnwrap(entry["tensor"] as? String)
            let info = try XCTUnwrap(gguf.tensorsByName[name])
            XCTAssertEqual(info.type.name, entry["type"] as? String)
            let values = try Dequantize.toFloat32(gguf.data(of: info), type: info.type, count: info.elementCount)
            XCTAssertEqual(values.count, entry["count"] as? Int)
            let first = try floats(entry["first"]), last = try floats(entry["last"])
            XCTAssertEqual(Array(values.prefix(first.count)).map(\.bitPattern), first.map(\.bitPattern), "\(name) first elements")
            XCTAssertEqual(Array(values.suffix(last.count)).map(\.bitPattern), last.map(\.bitPattern), "\(name) last elements")
            // The float64 sum of the whole tensor in element order, as NumPy's pairwise sum is exact to ~1e-16 relative.
            let sum = values.reduce(0.0) { $0 + Double($1) }
            let expected = try XCTUnwrap(entry["sum"] as? Double)
            XCTAssertEqual(sum, expected, accuracy: 1e-9 * max(1, values.reduce(0.0) { $0 + abs(Double($1)) }), name)
        }
    }
}
