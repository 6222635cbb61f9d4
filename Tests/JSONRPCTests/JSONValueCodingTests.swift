import Foundation
import XCTest
@testable import JSONRPC

/// Params are decoded straight from the parsed tree and results encoded straight into one: the trees must be what
/// Foundation's coders and the frame parser made of the same values before, and strict decoding must name the
/// member nobody asked for.
final class JSONValueCodingTests: XCTestCase {
    struct Sample: Codable, Equatable {
        struct Limits: Codable, Equatable {
            var seconds: Double?
            var bytes: Int?
        }
        var name: String
        var count: Int
        var ratio: Double
        var weight: Float
        var seed: UInt64?
        var flags: [Bool]
        var limits: Limits?
        var tags: [String: Int]
        var missing: String?
    }

    private let sample = Sample(name: "a/b \"q\"", count: -3, ratio: 0.1, weight: 0.1, seed: 1 << 62,
                                flags: [true, false], limits: .init(seconds: 2.5, bytes: nil),
                                tags: ["x": 1], missing: nil)

    func testEncodingGivesTheTreeFoundationsBytesParseTo() throws {
        let viaBytes = try JSONParser.parse(JSONEncoder().encode(sample))
        XCTAssertEqual(try JSONValueEncoder().encode(sample), viaBytes)
        // Integral reals lose their fraction, as JSONEncoder writes them; a Float keeps its shortest decimal.
        XCTAssertEqual(try JSONValueEncoder().encode([3.0, 0.5]), [3, 0.5])
        XCTAssertEqual(try JSONValueEncoder().encode([Float(0.1)]), [0.1])
        XCTAssertThrowsError(try JSONValueEncoder().encode([Double.nan]))
        // Every integer width, both ways.
        struct Widths: Codable, Equatable { var a: Int8; var b: Int16; var c: UInt16; var d: UInt; var e: UInt64 }
        let widths = Widths(a: -8, b: -16, c: 16, d: 7, e: .max)
        let tree = try JSONValueEncoder().encode(widths)
        XCTAssertEqual(tree, try JSONParser.parse(JSONEncoder().encode(widths)))
        XCTAssertEqual(try JSONValueDecoder().decode(Widths.self, from: ["a": -8, "b": -16, "c": 16, "d": 7, "e": 5]),
                       Widths(a: -8, b: -16, c: 16, d: 7, e: 5))
        XCTAssertThrowsError(try JSONValueDecoder().decode(Widths.self, from: ["a": 300, "b": 0, "c": 0, "d": 0, "e": 0]),
                             "300 does not fit an Int8")
    }

    func testDecodingReadsTheTreeAsFoundationReadsTheBytes() throws {
        let tree = try JSONValueEncoder().encode(sample)
        XCTAssertEqual(try JSONValueDecoder().decode(Sample.self, from: tree), sample)
        XCTAssertEqual(try JSONValueDecoder().decode(Sample.self, from: tree),
                       try JSONDecoder().decode(Sample.self, from: JSONSerializer.serialize(tree)))
    }

    func testStrictDecodingNamesTheFirstUnknownMemberAtAnyDepth() throws {
        var tree = try JSONValueEncoder().encode(sample)
        XCTAssertNoThrow(try JSONValueDecoder(strict: true).decode(Sample.self, from: tree))
        guard case .object(var members) = tree else { return XCTFail("not an object") }
        members["limits"] = ["seconds": 1, "byts": 5]
        tree = .object(members)
        XCTAssertNoThrow(try JSONValueDecoder().decode(Sample.self, from: tree), "lenient by default")
        XCTAssertThrowsError(try JSONValueDecoder(strict: true).decode(Sample.self, from: tree)) { error in
            XCTAssertEqual(error as? JSONValueDecoder.UnknownField,
                           .init(path: "limits.byts", accepted: ["bytes", "seconds"]))
        }
        // A dictionary takes every member as its own.
        members["limits"] = nil
        members["tags"] = ["anything": 2, "else": 3]
        members["extra"] = true
        XCTAssertThrowsError(try JSONValueDecoder(strict: true).decode(Sample.self, from: .object(members))) { error in
            XCTAssertEqual((error as? JSONValueDecoder.UnknownField)?.path, "extra")
        }
    }

    func testStrictParamsErrorNamesTheFieldAndWhatIsAccepted() throws {
        XCTAssertThrowsError(try ParamsDecoding.decode(Sample.Limits.self, from: ["seconds": 1, "sec": 2], strict: true)) { error in
            let rpc = error as? RPCError
            XCTAssertEqual(rpc?.code, RPCError.invalidParamsCode)
            XCTAssertEqual(rpc?.data?["field"], "sec")
            XCTAssertEqual(rpc?.message, "invalid params: field 'sec': unknown field (accepted: bytes, seconds)")
        }
        // Positions inside arrays are part of the name.
        XCTAssertThrowsError(try ParamsDecoding.decode([Sample.Limits].self, from: [["seconds": 1], ["bytes": 1, "b": 2]],
                                                       strict: true)) { error in
            XCTAssertEqual((error as? RPCError)?.data?["field"], "[1].b")
        }
    }
}
