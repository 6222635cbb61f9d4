/// Turns a byte stream into text pieces without ever splitting a character: bytes of an incomplete trailing
/// UTF-8 sequence wait for the next push. Invalid bytes become U+FFFD exactly as `String(decoding:as:)` does, so
/// the concatenation of all pieces equals decoding all bytes at once.
public struct IncrementalUTF8Decoder: Sendable {
    private var waiting: [UInt8] = []

    public init() {}

    /// The text completed by `bytes`.
    public mutating func push<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        waiting.append(contentsOf: bytes)
        let cut = IncrementalUTF8Decoder.completePrefixLength(waiting)
        guard cut > 0 else { return "" }
        let text = String(decoding: waiting[..<cut], as: UTF8.self)
        waiting.removeFirst(cut)
        return text
    }

    /// Everything still waiting; an incomplete sequence becomes U+FFFD.
    public mutating func flush() -> String {
        defer { waiting.removeAll() }
        return String(decoding: waiting, as: UTF8.self)
    }

    /// Length of the prefix that cannot change when more bytes arrive: everything before a trailing lead byte
    /// whose sequence is still missing continuation bytes. No sequence starting earlier can reach past a lead
    /// byte, so decoding the prefix alone gives the same characters as decoding everything.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let earliest = max(0, bytes.count - 3)
        var index = bytes.count - 1
        while index >= earliest {
            let byte = bytes[index]
            if byte & 0xC0 != 0x80 {  // not a continuation byte: the start of the last sequence
                let needed = sequenceLength(lead: byte)
                let available = bytes.count - index
                return needed > available ? index : bytes.count
            }
            index -= 1
        }
        return bytes.count
    }

    /// Bytes in a sequence starting with `lead`; 1 for ASCII and for bytes that cannot start a sequence.
    private static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 1
        }
    }
}
