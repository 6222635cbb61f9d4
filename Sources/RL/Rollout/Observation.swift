import Sandbox

// TORL policy, not sandbox mechanism: how a run's result is shown to the model (beside `ObservationLayout`, which
// places it in the trajectory).

/// The published TORL observation format (docs/TORL_PROTOCOL.md), with its lengths configurable.
public struct ObservationOptions: Codable, Equatable, Sendable {
    /// Characters (Unicode scalars, like Python's len) kept from the start of a long output.
    public var headCharacters: Int
    /// Characters kept from the end of a long output.
    public var tailCharacters: Int
    /// Outputs of at least this many characters are cut to head + marker + tail.
    public var truncateAtCharacters: Int
    public var truncationMarker: String
    /// Replaces an empty output after a timeout.
    public var timeoutMessage: String

    public init(headCharacters: Int = 128, tailCharacters: Int = 128, truncateAtCharacters: Int = 256,
                truncationMarker: String = "...",
                timeoutMessage: String = "TimeoutError: execution timed out") {
        self.headCharacters = headCharacters
        self.tailCharacters = tailCharacters
        self.truncateAtCharacters = truncateAtCharacters
        self.truncationMarker = truncationMarker
        self.timeoutMessage = timeoutMessage
    }

    enum CodingKeys: String, CodingKey {
        case headCharacters = "head_characters"
        case tailCharacters = "tail_characters"
        case truncateAtCharacters = "truncate_at_characters"
        case truncationMarker = "truncation_marker"
        case timeoutMessage = "timeout_message"
    }
}

/// The interpreter output block inserted into a trajectory: "```output\n{obs}\n```\n".
public func formatObservation(_ result: ExecutionResult, options: ObservationOptions = ObservationOptions())
    -> String {
    "```output\n" + observationText(result, options: options) + "\n```\n"
}

/// The post-processed observation without its fence: the last line of an error, the timeout message for a
/// silent timeout, head + "..." + tail for long output.
public func observationText(_ result: ExecutionResult, options: ObservationOptions = ObservationOptions())
    -> String {
    let stdout = trimmingTrailingNewlines(result.stdout)
    let text: String
    switch result.status {
    case .ok:
        text = stdout
    case .timeout:
        text = stdout.isEmpty ? options.timeoutMessage : stdout
    case .outputLimit:
        text = stdout.isEmpty ? lastLine(of: result.stderr) ?? "" : stdout
    case .error, .memory, .killed:
        text = lastLine(of: result.stderr) ?? result.message ?? signalDescription(result.signal)
    case .sandboxError, .busy, .rejected:
        text = result.message ?? result.status.rawValue
    }
    return truncatedMiddle(text, options: options)
}

/// First `head` + marker + last `tail` Unicode scalars when the text reaches `truncateAtCharacters`.
public func truncatedMiddle(_ text: String, options: ObservationOptions) -> String {
    let scalars = text.unicodeScalars
    guard scalars.count >= options.truncateAtCharacters, scalars.count > 0 else { return text }
    let head = String(String.UnicodeScalarView(scalars.prefix(max(0, options.headCharacters))))
    let tail = String(String.UnicodeScalarView(scalars.suffix(max(0, options.tailCharacters))))
    return head + options.truncationMarker + tail
}

private func trimmingTrailingNewlines(_ text: String) -> String {
    var end = text.endIndex
    while end > text.startIndex {
        let previous = text.index(before: end)
        guard text[previous].isNewline else { break }
        end = previous
    }
    return String(text[..<end])
}

private func signalDescription(_ signal: Int?) -> String {
    guard let signal else { return "" }
    return "Killed by signal \(signal)"
}
