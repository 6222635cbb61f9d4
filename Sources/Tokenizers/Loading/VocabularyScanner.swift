import Foundation

/// Reads and writes `tokenizer.json`'s `model.vocab` and `model.merges` byte for byte. Swift dictionaries (and so
/// JSONSerialization's objects) compare string keys by canonical equivalence: Gemma's vocabulary spells "ায়" both
/// as one scalar and as two (tokens 3082 and 4388), which a `[String: Int]` would fold into one entry; and
/// Foundation's JSONSerialization on Linux drops U+FEFF from strings (Gemma merges "\u{FEFF}" with itself).
enum VocabularyJSON {
    /// The (text, id) pairs of `model.vocab`, in file order. `data` must already parse as JSON.
    static func entries(in data: Data) throws -> [(text: String, id: Int)] {
        var scanner = Scanner(bytes: [UInt8](data))
        return try scanner.vocabulary()
    }

    /// `model.merges`: `["a b", ...]` (older files) or `[["a", "b"], ...]` (newer files), in rank order.
    static func merges(in data: Data) throws -> [(String, String)] {
        var scanner = Scanner(bytes: [UInt8](data))
        return try scanner.mergeList()
    }

    /// `{"text": id, ...}` in id order, each text escaped as JSON requires and otherwise left as its UTF-8.
    static func encode(_ entries: [(text: String, id: Int)]) -> String {
        var output = "{"
        for (index, entry) in entries.enumerated() {
            if index > 0 { output += ",\n" }
            output += quoted(entry.text) + ": " + String(entry.id)
        }
        return output + "}"
    }

    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20: output += String(format: "\\u%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        private func fail(_ detail: String) -> TokenizerError {
            .malformed("tokenizer.json at byte \(index): \(detail)")
        }

        mutating func vocabulary() throws -> [(text: String, id: Int)] {
            guard try seek(key: "model") else { throw fail("no model object") }
            guard try seek(key: "vocab") else { throw fail("model has no vocab object") }
            var entries: [(text: String, id: Int)] = []
            try expect(UInt8(ascii: "{"))
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return entries }
            while true {
                skipWhitespace()
                let text = try string()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                let id = try integer()
                guard id >= 0 else { throw TokenizerError.malformed("tokenizer.json: model.vocab[\"\(text)\"] is not a token id") }
                entries.append((text, id))
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return entries
            }
        }

        mutating func mergeList() throws -> [(String, String)] {
            guard try seek(key: "model") else { throw fail("no model object") }
            guard try seek(key: "merges") else { throw TokenizerError.malformed("tokenizer.json: model.merges is not an array") }
            var merges: [(String, String)] = []
            try expect(UInt8(ascii: "["))
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { index += 1; return merges }
            while true {
                skipWhitespace()
                if peek() == UInt8(ascii: "\"") {
                    merges.append(try BPETokenizerConfiguration.splitMergeLine(try string()))
                } else {
                    try expect(UInt8(ascii: "["))
                    skipWhitespace()
                    let left = try string()
                    skipWhitespace()
                    try expect(UInt8(ascii: ","))
                    skipWhitespace()
                    let right = try string()
                    skipWhitespace()
                    guard peek() == UInt8(ascii: "]") else {
                        throw TokenizerError.malformed("tokenizer.json: model.merges[\(merges.count)] is neither \"a b\" nor [a, b]")
                    }
                    index += 1
                    merges.append((left, right))
                }
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return merges
            }
        }

        /// Moves into the object at `index` until the value of `key` (true), or past the object (false).
        mutating func seek(key: String) throws -> Bool {
            skipWhitespace()
            try expect(UInt8(ascii: "{"))
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return false }
            while true {
                skipWhitespace()
                let name = try string()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                if name == key { return true }
                try skipValue()
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return false
            }
        }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws {
            guard peek() == byte else { throw fail("expected \"\(Character(Unicode.Scalar(byte)))\"") }
            index += 1
        }

        mutating func integer() throws -> Int {
            let start = index
            if peek() == UInt8(ascii: "-") { index += 1 }
            while let byte = peek(), byte >= 0x30, byte <= 0x39 { index += 1 }
            guard let value = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else { throw fail("expected an integer") }
            return value
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            var output: [UInt8] = []
            while true {
                guard let byte = peek() else { throw fail("unterminated string") }
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: output, as: UTF8.self) }
                guard byte == UInt8(ascii: "\\") else { output.append(byte); continue }
                guard let escaped = peek() else { throw fail("unterminated escape") }
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): output.append(0x0A)
                case UInt8(ascii: "r"): output.append(0x0D)
                case UInt8(ascii: "t"): output.append(0x09)
                case UInt8(ascii: "b"): output.append(0x08)
                case UInt8(ascii: "f"): output.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), peek() == UInt8(ascii: "\\") {
                        index += 2  // "\u" of the low surrogate
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    output.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                default: output.append(escaped)  // \" \\ \/
                }
            }
        }

        /// Past a string without decoding it.
        mutating func skipString() throws {
            try expect(UInt8(ascii: "\""))
            while let byte = peek() {
                index += byte == UInt8(ascii: "\\") ? 2 : 1
                if byte == UInt8(ascii: "\"") { return }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count,
                  let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
            else { throw fail("bad \\u escape") }
            index += 4
            return value
        }

        mutating func skipValue() throws {
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: "\"")?: try skipString()
            case UInt8(ascii: "{")?, UInt8(ascii: "[")?:
                // Nested containers: count depth, skipping strings whole (their brackets are text).
                var depth = 0
                repeat {
                    switch peek() {
                    case UInt8(ascii: "\"")?: try skipString(); continue
                    case UInt8(ascii: "{")?, UInt8(ascii: "[")?: depth += 1
                    case UInt8(ascii: "}")?, UInt8(ascii: "]")?: depth -= 1
                    case nil: throw fail("unterminated container")
                    default: break
                    }
                    index += 1
                } while depth > 0
            default:
                while let byte = peek(), byte != UInt8(ascii: ","), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "]") {
                    index += 1
                }
            }
        }
    }
}
