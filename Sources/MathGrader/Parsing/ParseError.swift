/// Why an answer could not be read as mathematics; the grader then falls back to comparing normalized text.
enum MathParseError: Error, Equatable, Sendable {
    case unexpectedCharacter(String)
    case unknownCommand(String)
    case unexpectedToken(String)
    case unbalanced(String)
    case unexpectedEnd
    case tooDeep(limit: Int)
    case tooLong(limit: Int)
}
