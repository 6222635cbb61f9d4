/// GPT-2's reversible map between the 256 byte values and printable Unicode characters (`bytes_to_unicode`).
/// Byte-level BPE vocabularies spell every token in this alphabet: printable Latin-1 bytes stand for
/// themselves, the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) become U+0100... in byte order,
/// so the space byte is "Ġ" (U+0120) and "\n" is "Ċ" (U+010A).
enum ByteLevelAlphabet {
    /// characterOfByte[b] is the character that spells byte b.
    static let characterOfByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// byteOfCharacter[scalar] for scalars below 0x144 (the largest character in the alphabet is U+0143); -1 when
    /// the scalar is not in the alphabet.
    private static let byteOfCharacter: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in characterOfByte.enumerated() { inverse[Int(scalar.value)] = Int16(byte) }
        return inverse
    }()

    /// The bytes a vocabulary entry spells, or nil when it uses a character outside the alphabet (such entries
    /// are taken literally, as Hugging Face's ByteLevel decoder does).
    static func bytes(spelledBy text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            guard scalar.value < 0x144 else { return nil }
            let byte = byteOfCharacter[Int(scalar.value)]
            guard byte >= 0 else { return nil }
            bytes.append(UInt8(byte))
        }
        return bytes
    }

    /// The vocabulary spelling of raw bytes.
    static func spelling(of bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(characterOfByte[Int(byte)]) }
        return String(text)
    }
}
