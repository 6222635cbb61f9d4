/// The text of one response as it grows: stop-string matching on bytes, and streaming deltas that never split a
/// character and never show bytes that may still turn out to start a stop string cut from the text.
struct ResponseText: Sendable {
    /// Every stop string and pause string of the request; `Match.pattern` indexes this list.
    let stops: StopStringMatcher
    /// The stop strings whose match cuts the text before them: their partial matches are held back.
    private let heldBack: StopStringMatcher
    private(set) var bytes: [UInt8] = []
    /// Stop strings only match sampled bytes after the last insertion: inserted text (tool output) never stops.
    private var matchStart = 0
    /// Bytes already handed to the streaming decoder.
    private var released = 0
    private var decoder = IncrementalUTF8Decoder()

    init(stops: [String], heldBack: [String]) {
        self.stops = StopStringMatcher(stops)
        self.heldBack = StopStringMatcher(heldBack)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Adds the bytes of a sampled token. On a match nothing is released: the caller pauses or finishes.
    mutating func appendSampled(_ newBytes: [UInt8]) -> (delta: String, match: StopStringMatcher.Match?) {
        let oldCount = bytes.count
        bytes.append(contentsOf: newBytes)
        if let match = stops.firstMatch(in: bytes, oldCount: oldCount, searchStart: matchStart) {
            return ("", match)
        }
        let withheld = heldBack.partialMatchLength(in: bytes, searchStart: max(matchStart, released))
        return (release(upTo: max(released, bytes.count - withheld)), nil)
    }

    /// Adds inserted bytes (e.g. tool output); they and everything before them are released at once.
    mutating func appendInserted(_ newBytes: [UInt8]) -> String {
        bytes.append(contentsOf: newBytes)
        matchStart = bytes.count
        return release(upTo: bytes.count)
    }

    /// Releases every byte, e.g. when a pause string parks the sequence.
    mutating func releaseAll() -> String { release(upTo: bytes.count) }

    /// Ends the text at `cut` (or keeps it whole) and flushes the decoder.
    mutating func finish(cuttingAt cut: Int?) -> String {
        if let cut { bytes.removeSubrange(max(cut, released)...) }
        return release(upTo: bytes.count) + decoder.flush()
    }

    private mutating func release(upTo end: Int) -> String {
        guard end > released else { return "" }
        defer { released = end }
        return decoder.push(bytes[released..<end])
    }
}
