import Foundation
import XCTest
@testable import JSONRPC

final class MessageTests: XCTestCase {
    private func parse(_ text: String) throws -> RPCMessage {
        try RPCMessage(parsing: Data(text.utf8))
    }

    private func invalid(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> InvalidMessage? {
        do {
            _ = try parse(text)
            XCTFail("accepted \(text)", file: file, line: line)
        } catch let error as InvalidMessage {
            XCTAssertEqual(error.error.code, -32600, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    func testParsesEachMessageKind() throws {
        XCTAssertEqual(try parse(#"{"jsonrpc":"2.0","id":7,"method":"status"}"#),
                       .request(RPCRequest(id: .int(7), method: "status")))
        XCTAssertEqual(try parse(#"{"jsonrpc":"2.0","id":"x","method":"echo","params":[1,"a",null]}"#),
                       .request(RPCRequest(id: .string("x"), method: "echo", params: [1, "a", nil])))
        XCTAssertEqual(try parse(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":3}}"#),
                       .notification(RPCNotification(method: "$/cancelRequest", params: ["id": 3])))
        XCTAssertEqual(try parse(#"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#), .response(.success(.int(3), ["ok": true])))
        XCTAssertEqual(try parse(#"{"jsonrpc":"2.0","id":4,"method":"shutdown","params":null}"#),
                       .request(RPCRequest(id: .int(4), method: "shutdown")), "null params read as absent")
        XCTAssertEqual(try parse(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}"#),
                       .response(.failure(nil, RPCError(code: -32700, message: "bad"))))
    }

    func testLargeIntegersAndFloatsSurviveARoundTrip() throws {
        let message = RPCMessage.request(RPCRequest(id: .int(9_007_199_254_740_993), method: "m",
                                                    params: ["big": .int(Int64.max), "x": 0.1, "s": "a/b\n\"q\""]))
        XCTAssertEqual(try RPCMessage(parsing: message.encoded()), message)
    }

    func testMalformedJSONIsAParseError() {
        XCTAssertThrowsError(try parse(#"{"jsonrpc":"2.0","id":1,"#)) { error in
            XCTAssertEqual((error as? RPCError)?.code, -32700)
        }
        XCTAssertThrowsError(try RPCMessage(parsing: Data([0x7B, 0xFF, 0xFE, 0x7D]))) { error in
            XCTAssertEqual((error as? RPCError)?.code, -32700, "invalid UTF-8")
        }
    }

    func testInvalidRequestsKeepTheirIdWhenReadable() {
        XCTAssertEqual(invalid(#"{"jsonrpc":"1.0","id":4,"method":"m"}"#)?.id, .int(4))
        XCTAssertEqual(invalid(#"{"jsonrpc":"2.0","id":5,"method":3}"#)?.error.message,
                       "invalid request: \"method\" must be a string, found number")
        XCTAssertEqual(invalid(#"{"jsonrpc":"2.0","id":6,"method":"m","params":"x"}"#)?.error.message,
                       "invalid request: \"params\" must be an object or an array, found string")
        XCTAssertNil(invalid(#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#)?.id)
        XCTAssertEqual(invalid(#"[{"jsonrpc":"2.0","id":1,"method":"m"}]"#)?.error.message,
                       "invalid request: batch requests are not supported; send one message per frame")
        XCTAssertEqual(invalid("42")?.error.message, "invalid request: expected a JSON object, found number")
        XCTAssertNotNil(invalid(#"{"jsonrpc":"2.0"}"#))
    }

    func testErrorMappingPrefersConvertibleErrorsThenCancellation() {
        struct ModelMissing: RPCErrorConvertible {
            var rpcError: RPCError { RPCError(code: -32020, message: "no model loaded") }
        }
        struct Opaque: Error {}
        XCTAssertEqual(RPCError.from(ModelMissing(), cancelled: true).code, -32020)
        XCTAssertEqual(RPCError.from(CancellationError(), cancelled: false).code, -32800)
        XCTAssertEqual(RPCError.from(Opaque(), cancelled: true).code, -32800)
        XCTAssertEqual(RPCError.from(Opaque(), cancelled: false).code, -32603)
    }
}
