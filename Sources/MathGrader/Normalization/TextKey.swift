/// The normalized text of an answer, for prose answers and for inputs that do not parse: typesetting removed,
/// case folded, `(B)` and `B` alike.
enum TextKey {
    private static let removedWords = [
        "\\left", "\\right", "\\displaystyle", "\\textbf", "\\textit", "\\textrm", "\\textnormal", "\\text",
        "\\mbox", "\\mathrm", "\\mathbf", "\\operatorname", "\\!", "\\,", "\\;", "\\:", "\\ ", "\\$", "$",
    ]

    static func make(_ raw: String) -> String {
        var text = raw
        for word in removedWords { text = text.replacingAll(word, with: "") }
        text = text.replacingAll("\\dfrac", with: "\\frac").replacingAll("\\tfrac", with: "\\frac")
        var bytes = Array(text.utf8).filter { byte in
            byte != UInt8(ascii: " ") && byte != UInt8(ascii: "{") && byte != UInt8(ascii: "}")
                && byte != UInt8(ascii: "~") && byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\t")
        }
        bytes = bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        while bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        // Multiple-choice letters: "(b)" and "b" are the same answer.
        if bytes.count == 3, bytes[0] == UInt8(ascii: "("), bytes[2] == UInt8(ascii: ")"), isLetter(bytes[1]) {
            bytes = [bytes[1]]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
