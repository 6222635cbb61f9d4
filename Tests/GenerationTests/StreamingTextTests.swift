import XCTest
@testable import Generation

final class StreamingTextTests: XCTestCase {
    func testUTF8DecoderNeverSplitsCharactersAndMatchesWholeDecoding() {
        let text = "aé🙂€ z\u{10FFFF}"
        let bytes = Array(text.utf8)
        var decoder = IncrementalUTF8Decoder()
        var pieces: [String] = []
        for byte in bytes { pieces.append(decoder.push([byte])) }
        pieces.append(decoder.flush())
        XCTAssertEqual(pieces.joined(), text)
        XCTAssertFalse(pieces.contains { $0.contains("\u{FFFD}") })
        XCTAssertEqual(pieces[1], "", "first byte of é waits")
        XCTAssertEqual(pieces[2], "é")
    }

    func testUTF8DecoderReplacesInvalidBytesLikeStringDecoding() {
        let streams: [[UInt8]] = [[0x61, 0xFF, 0x62], [0xE2, 0x41], [0xC3], [0x80, 0x80, 0x61], [0xF0, 0x9F, 0x99]]
        for bytes in streams {
            for chunk in 1...3 {
                var decoder = IncrementalUTF8Decoder()
                var joined = ""
                for start in stride(from: 0, to: bytes.count, by: chunk) {
                    joined += decoder.push(bytes[start..<min(start + chunk, bytes.count)])
                }
                joined += decoder.flush()
                XCTAssertEqual(joined, String(decoding: bytes, as: UTF8.self), "\(bytes) in chunks of \(chunk)")
            }
        }
    }

    func testStopStringFoundAcrossTokenBoundaries() {
        let matcher = StopStringMatcher(["STOP", "\n\n"])
        var bytes: [UInt8] = []
        var found: StopStringMatcher.Match?
        for piece in ["xx S", "T", "OPyy"] {
            let old = bytes.count
            bytes += Array(piece.utf8)
            found = matcher.firstMatch(in: bytes, oldCount: old, searchStart: 0)
            if found != nil { break }
        }
        XCTAssertEqual(found, StopStringMatcher.Match(pattern: 0, range: 3..<7))
    }

    func testEarliestStopStringWins() {
        let matcher = StopStringMatcher(["cd", "bcde"])
        let bytes = Array("abcdef".utf8)
        XCTAssertEqual(matcher.firstMatch(in: bytes, oldCount: 0, searchStart: 0)?.pattern, 1)
        XCTAssertNil(matcher.firstMatch(in: bytes, oldCount: 0, searchStart: 3), "matches before searchStart are ignored")
    }

    func testPartialMatchLengthIsLongestSuffixPrefix() {
        let matcher = StopStringMatcher(["STOP", "SOS"])
        XCTAssertEqual(matcher.partialMatchLength(in: Array("abSTO".utf8), searchStart: 0), 3)
        XCTAssertEqual(matcher.partialMatchLength(in: Array("abSO".utf8), searchStart: 0), 2)
        XCTAssertEqual(matcher.partialMatchLength(in: Array("abc".utf8), searchStart: 0), 0)
        XCTAssertEqual(matcher.partialMatchLength(in: Array("abSTO".utf8), searchStart: 3), 0,
                       "a partial match may not reach before searchStart")
    }

    func testResponseTextHoldsBackPossibleStopPrefixAndCutsAtStop() {
        var text = ResponseText(stops: ["STOP"], heldBack: ["STOP"])
        var deltas: [String] = []
        for piece in ["ab S", "T", "x S", "TO"] {
            let (delta, match) = text.appendSampled(Array(piece.utf8))
            XCTAssertNil(match)
            deltas.append(delta)
        }
        XCTAssertEqual(deltas, ["ab ", "", "STx ", ""])
        let (delta, match) = text.appendSampled(Array("P!".utf8))
        XCTAssertEqual(delta, "")
        XCTAssertEqual(match?.range, 7..<11)
        deltas.append(text.finish(cuttingAt: match!.range.lowerBound))
        XCTAssertEqual(deltas.joined(), "ab STx ")
        XCTAssertEqual(text.text, "ab STx ")
    }

    func testInsertedBytesNeverTriggerStops() {
        var text = ResponseText(stops: ["```"], heldBack: [])
        XCTAssertEqual(text.appendSampled(Array("a`".utf8)).delta, "a`")
        XCTAssertEqual(text.appendInserted(Array("``b```".utf8)), "``b```")
        XCTAssertNil(text.appendSampled(Array("c".utf8)).match)
        XCTAssertNotNil(text.appendSampled(Array("```".utf8)).match)
    }
}
