import Foundation
import XCTest
@testable import JSONRPC

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONParser.parse(Data(text.utf8))
    }

    private func rejection(_ bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try JSONParser.parse(Data(bytes))
            XCTFail("accepted \(String(decoding: bytes, as: UTF8.self))")
            return nil
        } catch {
            return error as? JSONParseError
        }
    }

    private func rejection(_ text: String) -> JSONParseError? { rejection(Array(text.utf8)) }

    func testParsesEveryKindOfValue() throws {
        XCTAssertEqual(try parse(#" {"a": [1, -2.5, 3e2, true, false, null, "x"], "b": {}} "#),
                       ["a": [1, -2.5, 300.0, true, false, nil, "x"], "b": .object([:])])
        XCTAssertEqual(try parse("9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(try parse("9223372036854775808"), .double(9_223_372_036_854_775_808))
        XCTAssertEqual(try parse("-0"), .int(0))
        XCTAssertEqual(try parse(#""\u00e9\ud83c\udfb2\n\t\"\\\/""#), .string("é🎲\n\t\"\\/"))
        XCTAssertEqual(try parse(#""plain ünïcode ∑""#), .string("plain ünïcode ∑"))
        XCTAssertEqual(try parse(#"{"k":1,"k":2}"#), ["k": 2], "the last duplicate wins")
    }

    func testRejectionsNameTheProblemAndWhere() {
        XCTAssertEqual(rejection(""), JSONParseError(offset: 0, reason: "empty body"))
        XCTAssertEqual(rejection("{\"a\":1,}")?.reason, "expected a string key")
        XCTAssertEqual(rejection("[1 2]"), JSONParseError(offset: 3, reason: "expected ',' or ']' in an array"))
        XCTAssertEqual(rejection("01")?.reason, "leading zeros are not allowed")
        XCTAssertEqual(rejection("1.")?.reason, "expected a digit after '.'")
        XCTAssertEqual(rejection("1e400")?.reason, "number out of range")
        XCTAssertEqual(rejection("tru")?.reason, "invalid literal (expected true)")
        XCTAssertEqual(rejection("\"a\u{01}b\"")?.reason, "unescaped control character in a string")
        XCTAssertEqual(rejection(#""\x""#)?.reason, #"invalid escape '\x'"#)
        XCTAssertEqual(rejection(#""\ud800""#)?.reason, #"unpaired high surrogate in \u escape"#)
        XCTAssertEqual(rejection(#""\udc00""#)?.reason, #"unpaired low surrogate in \u escape"#)
        XCTAssertEqual(rejection("{} {}")?.reason, "unexpected data after the JSON value")
        XCTAssertEqual(rejection("NaN")?.reason, "unexpected character 'N'")
        XCTAssertEqual(rejection("\"abc")?.reason, "unterminated string")
    }

    func testRejectsInvalidUTF8() {
        let cases: [[UInt8]] = [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
                                [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]]
        for bytes in cases {
            XCTAssertNotNil(rejection(bytes), "\(bytes)")
        }
    }

    func testNestingIsBounded() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        XCTAssertNoThrow(try parse(ok))
        let deep = String(repeating: "[", count: 100_000)
        XCTAssertEqual(rejection(deep)?.reason, "nesting deeper than \(JSONParser.maxDepth) levels")
    }

    func testSerializerRoundTripsAndAgreesWithFoundation() throws {
        var random = SeededGenerator(seed: 0x15011)
        func randomValue(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0 ... (depth > 3 ? 4 : 6), using: &random) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &random))
            case 2: return .int(Int64.random(in: Int64.min ... Int64.max, using: &random))
            case 3: return .double(Double.random(in: -1e6 ... 1e6, using: &random))
            case 4:
                let scalars = (0 ..< Int.random(in: 0 ... 12, using: &random)).map { _ -> Character in
                    let pool: [Character] = ["a", "\"", "\\", "\n", "\u{01}", "/", "é", "🎲", "∑", " ", "\u{7F}"]
                    return pool.randomElement(using: &random)!
                }
                return .string(String(scalars))
            case 5: return .array((0 ..< Int.random(in: 0 ... 4, using: &random)).map { _ in randomValue(depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for index in 0 ..< Int.random(in: 0 ... 4, using: &random) { members["k\(index)"] = randomValue(depth + 1) }
                return .object(members)
            }
        }
        for _ in 0 ..< 500 {
            let value = randomValue(0)
            let bytes = try JSONSerializer.serialize(value)
            XCTAssertEqual(try JSONParser.parse(bytes), value)
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed]),
                             String(decoding: bytes, as: UTF8.self))
        }
        XCTAssertThrowsError(try JSONSerializer.serialize(.double(.nan)))
        XCTAssertEqual(String(decoding: try JSONSerializer.serialize(["b": 1, "a": "x/y"]), as: UTF8.self), #"{"a":"x/y","b":1}"#)
    }
}
