import Foundation
import XCTest
@testable import JSONRPC

final class FrameDecoderTests: XCTestCase {
    private func frame(_ body: String, headers: String = "") -> [UInt8] {
        Array("Content-Length: \(body.utf8.count)\r\n\(headers)\r\n\(body)".utf8)
    }

    /// Feeds `bytes` in chunks of the given sizes (cycled) and collects every event.
    private func decode(_ bytes: [UInt8], chunkSizes: [Int], limits: FramingLimits = FramingLimits()) throws -> [FrameEvent] {
        var decoder = FrameDecoder(limits: limits)
        var events: [FrameEvent] = []
        var offset = 0
        var chunk = 0
        while offset < bytes.count {
            let size = min(chunkSizes[chunk % chunkSizes.count], bytes.count - offset)
            decoder.append(bytes[offset ..< offset + size])
            offset += size
            chunk += 1
            while let event = try decoder.next() { events.append(event) }
        }
        XCTAssertTrue(decoder.isAtFrameBoundary)
        return events
    }

    func testFramesFedOneByteAtATimeMatchFramesFedWhole() throws {
        let bodies = [#"{"jsonrpc":"2.0","id":1,"method":"a"}"#, "{}", #"{"text":"héllo ∑ 🎲"}"#]
        let stream = bodies.flatMap { frame($0) }
        let oneByte = try decode(stream, chunkSizes: [1])
        let whole = try decode(stream, chunkSizes: [stream.count])
        let expected = bodies.map { FrameEvent.body(Data($0.utf8)) }
        XCTAssertEqual(oneByte, expected)
        XCTAssertEqual(whole, expected)
    }

    func testHeaderNamesAreCaseInsensitiveAndContentTypeWithUTF8IsAccepted() throws {
        let bytes = Array("content-LENGTH: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}".utf8)
        XCTAssertEqual(try decode(bytes, chunkSizes: [3]), [.body(Data("{}".utf8))])
    }

    func testUnknownHeadersAreIgnored() throws {
        let bytes = frame("[]", headers: "X-Trace: abc\r\n")
        XCTAssertEqual(try decode(bytes, chunkSizes: [5]), [.body(Data("[]".utf8))])
    }

    private func framingError(_ text: String, limits: FramingLimits = FramingLimits()) -> FramingError? {
        var decoder = FrameDecoder(limits: limits)
        decoder.append(Array(text.utf8))
        do {
            _ = try decoder.next()
            return nil
        } catch let error as FramingError {
            XCTAssertThrowsError(try decoder.next(), "a failed decoder keeps failing")
            return error
        } catch {
            XCTFail("unexpected error \(error)")
            return nil
        }
    }

    func testMalformedHeadersNameTheProblem() {
        XCTAssertEqual(framingError("Content-Type: x\r\n\r\n{}")?.reason, "missing Content-Length header")
        XCTAssertEqual(framingError("Content-Length: 1x\r\n\r\n")?.reason, "Content-Length is not a decimal byte count (\"1x\")")
        XCTAssertEqual(framingError("Content-Length: -5\r\n\r\n")?.reason, "Content-Length is not a decimal byte count (\"-5\")")
        XCTAssertEqual(framingError("Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")?.reason, "Content-Length given twice")
        XCTAssertEqual(framingError("garbage\r\n\r\n")?.reason, "header line without ':' (\"garbage\")")
        XCTAssertEqual(framingError("Content-Length: 2\r\nContent-Type: text/json; charset=latin1\r\n\r\n{}")?.reason,
                       "unsupported charset 'latin1' (only utf-8)")
        XCTAssertEqual(framingError("Content-Length: 99999999999999999999\r\n\r\n")?.reason,
                       "Content-Length is not a decimal byte count (\"99999999999999999999\")")
    }

    func testHeaderWithoutBlankLineFailsOnceItExceedsTheLimit() {
        let limits = FramingLimits(maxHeaderBytes: 64, maxBodyBytes: 1024)
        var decoder = FrameDecoder(limits: limits)
        decoder.append(Array(String(repeating: "A", count: 64).utf8))
        XCTAssertNil(try decoder.next(), "exactly at the limit: still waiting")
        decoder.append([65])
        XCTAssertThrowsError(try decoder.next()) { error in
            XCTAssertEqual((error as? FramingError)?.reason, "header section exceeds 64 bytes without a blank line")
        }
    }

    func testOversizedBodyIsSkippedAndTheNextFrameDecodes() throws {
        let limits = FramingLimits(maxHeaderBytes: 1024, maxBodyBytes: 10)
        let big = String(repeating: "x", count: 25)
        let stream = frame(big) + frame("[1]")
        for chunkSize in [1, 7, stream.count] {
            XCTAssertEqual(try decode(stream, chunkSizes: [chunkSize], limits: limits),
                           [.oversizedBody(length: 25, limit: 10), .body(Data("[1]".utf8))], "chunk size \(chunkSize)")
        }
    }

    func testTruncatedFrameYieldsNothingAndIsNotAtABoundary() throws {
        let whole = frame(#"{"a":1}"#)
        for cut in 1 ..< whole.count {
            var decoder = FrameDecoder()
            decoder.append(whole[..<cut])
            XCTAssertNil(try decoder.next(), "cut at \(cut)")
            XCTAssertFalse(decoder.isAtFrameBoundary, "cut at \(cut)")
        }
    }

    func testEncoderOutputDecodesBack() throws {
        let message = RPCMessage.request(RPCRequest(id: .string("a/b"), method: "echo", params: ["x": 1.5]))
        var decoder = FrameDecoder()
        decoder.append(try FrameEncoder.frame(message))
        guard case .body(let body)? = try decoder.next() else { return XCTFail("no frame") }
        XCTAssertEqual(try RPCMessage(parsing: body), message)
    }

    /// Random valid frames cut at random points decode to exactly the bodies sent, and random garbage either
    /// decodes or fails with a FramingError, never anything else (seeded, so failures reproduce).
    func testFuzzRandomChunkingAndGarbage() throws {
        var random = SeededGenerator(seed: 0x7013)
        for round in 0 ..< 200 {
            let bodies = (0 ..< Int.random(in: 1 ... 6, using: &random)).map { _ in
                String((0 ..< Int.random(in: 0 ... 300, using: &random)).map { _ in
                    Character(UnicodeScalar(UInt8.random(in: 32 ... 126, using: &random)))
                })
            }
            let stream = bodies.flatMap { frame($0) }
            let chunkSizes = (0 ..< 5).map { _ in Int.random(in: 1 ... 40, using: &random) }
            XCTAssertEqual(try decode(stream, chunkSizes: chunkSizes), bodies.map { .body(Data($0.utf8)) }, "round \(round)")
        }
        let limits = FramingLimits(maxHeaderBytes: 256, maxBodyBytes: 4096)
        for _ in 0 ..< 300 {
            var decoder = FrameDecoder(limits: limits)
            let prefix = Bool.random(using: &random) ? Array("Content-Length: \(Int.random(in: 0 ... 5000, using: &random))".utf8) : []
            let garbage = prefix + (0 ..< Int.random(in: 0 ... 600, using: &random)).map { _ in
                [UInt8(13), 10, 58, 32, 48, 65].randomElement(using: &random)!
                    &+ (Bool.random(using: &random) ? 0 : UInt8.random(in: 0 ... 255, using: &random))
            }
            for byte in garbage {
                decoder.append([byte])
                do {
                    while try decoder.next() != nil {}
                } catch is FramingError {
                    break
                }
            }
        }
    }
}
