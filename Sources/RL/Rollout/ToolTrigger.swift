/// What makes the rollout run the model's code.
public enum ToolTrigger: String, Codable, Sendable, CaseIterable {
    /// The model closes a ```` ```python ```` block with a line starting with ```` ``` ````: for models that never
    /// write the output marker themselves (instruct models, base models without TIR data).
    case blockClose = "block_close"
    /// The model writes ```` ```output ```` (the published setup: a model trained on TIR data asks for the output).
    case outputMarker = "output_marker"

    /// The pause string given to the decoder. A block-close pause fires on every ```` ``` ```` the model samples;
    /// the rollout resumes at once unless the fence closes an open python block.
    public var pauseString: String {
        switch self {
        case .blockClose: return "```"
        case .outputMarker: return "```output"
        }
    }
}

/// The exact text the system inserts after a tool call (docs/ROLLOUTS.md, "token-level layout").
///
/// The trajectory text always reads `...```\n```output\n{obs}\n```\n`: a newline if the sampled text does not end
/// with one, the output fence (unless the model sampled ```` ```output ```` itself), the observation, the closing
/// fence and a newline. Everything in the returned string is inserted (loss mask 0); everything before it was
/// sampled.
public enum ObservationLayout {
    public static let outputFenceOpen = "```output\n"
    public static let outputFenceClose = "\n```\n"

    public static func insertedText(afterSampledText sampled: Substring, observation: String,
                                    trigger: ToolTrigger) -> String {
        let newline = sampled.hasSuffix("\n") ? "" : "\n"
        let fence = trigger == .outputMarker ? "" : outputFenceOpen
        return newline + fence + observation + outputFenceClose
    }
}
