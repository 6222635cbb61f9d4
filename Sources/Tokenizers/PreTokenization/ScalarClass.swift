/// The character classes the pre-tokenizer patterns test: `\p{L}` (general category L*), `\p{N}` (N*),
/// `\s` (the Unicode White_Space property, as in Rust's regex, Oniguruma and llama.cpp) and `[\r\n]`.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = ScalarClass(rawValue: 1)
    static let number = ScalarClass(rawValue: 2)
    static let whitespace = ScalarClass(rawValue: 4)
    static let lineBreak = ScalarClass(rawValue: 8)  // \r or \n (also whitespace)

    /// Neither whitespace, letter nor number: `[^\s\p{L}\p{N}]`.
    var isOther: Bool { isDisjoint(with: [.letter, .number, .whitespace]) }

    static func of(_ value: UInt32) -> ScalarClass {
        if value < 128 { return asciiClasses[Int(value)] }
        // Every UInt32 here came from decoding valid UTF-8, so it is a scalar.
        guard let scalar = Unicode.Scalar(value) else { return [] }
        return classify(scalar)
    }

    private static let asciiClasses: [ScalarClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        var classes: ScalarClass = []
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            classes.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            classes.insert(.number)
        default:
            break
        }
        if properties.isWhitespace { classes.insert(.whitespace) }
        if scalar == "\r" || scalar == "\n" { classes.insert(.lineBreak) }
        return classes
    }
}

/// One stretch of UTF-8 text decoded to scalars, with each scalar's classes and byte offset, so that pattern
/// matching runs over scalars while pieces are handed to BPE as byte ranges. Reused across segments to avoid
/// reallocating.
struct ScalarText {
    private(set) var values: [UInt32] = []
    private(set) var classes: [ScalarClass] = []
    /// byteOffsets[i] is where scalar i starts; byteOffsets[count] is the end of the text.
    private(set) var byteOffsets: [Int] = []

    var count: Int { values.count }

    /// Decodes bytes[range], which must be valid UTF-8 (it comes from a Swift String).
    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        values.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        byteOffsets.removeAll(keepingCapacity: true)
        var position = range.lowerBound
        while position < range.upperBound {
            let lead = bytes[position]
            let length: Int
            var value: UInt32
            if lead < 0x80 {
                length = 1; value = UInt32(lead)
            } else if lead < 0xE0 {
                length = 2; value = UInt32(lead & 0x1F)
            } else if lead < 0xF0 {
                length = 3; value = UInt32(lead & 0x0F)
            } else {
                length = 4; value = UInt32(lead & 0x07)
            }
            let end = min(position + length, range.upperBound)
            for index in (position + 1)..<max(position + 1, end) { value = value << 6 | UInt32(bytes[index] & 0x3F) }
            values.append(value)
            classes.append(ScalarClass.of(value))
            byteOffsets.append(position)
            position = end
        }
        byteOffsets.append(range.upperBound)
    }
}
