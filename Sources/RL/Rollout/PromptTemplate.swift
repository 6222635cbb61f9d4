import Tokenizers

/// How a problem becomes a prompt: the published plain-text TORL prompt, or the same instruction rendered
/// through the model's chat template (ChatML) as one user message.
public enum PromptTemplate: String, Codable, Sendable, CaseIterable {
    case torl
    case chat

    /// The instruction of the published prompt (docs/TORL_PROTOCOL.md).
    public static let instruction = "Please integrate natural language reasoning with programs to solve the problem above, and put your final answer within \\boxed{}."

    /// The published prompt, byte for byte (with the published instruction); it ends with a newline after
    /// `Assistant:`.
    public static func torlText(problem: String, instruction: String = instruction) -> String {
        "A conversation between User and Assistant. The user asks a question, and the Assistant solves it.\n"
            + "User: \(instruction)\n\(problem)\nAssistant:\n"
    }

    /// The user message of the chat template: the same instruction followed by the problem, as in `torlText`.
    public static func chatUserMessage(problem: String, instruction: String = instruction) -> String {
        "\(instruction)\n\(problem)"
    }
}

/// Renders and tokenizes prompts for one tokenizer.
public struct PromptBuilder: Sendable {
    public let tokenizer: Tokenizer
    /// nil when the model's files hold no usable chat template; `.chat` prompts then throw.
    public let chatTemplate: ChatTemplate?

    public init(tokenizer: Tokenizer, chatTemplate: ChatTemplate?) {
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
    }

    /// `instruction` replaces the published one (nil: the published instruction).
    public func text(for problem: String, template: PromptTemplate, instruction: String? = nil) throws -> String {
        let instruction = instruction ?? PromptTemplate.instruction
        switch template {
        case .torl:
            return PromptTemplate.torlText(problem: problem, instruction: instruction)
        case .chat:
            guard let chatTemplate else { throw RolloutError.noChatTemplate }
            let message = ChatMessage(role: "user", content: PromptTemplate.chatUserMessage(problem: problem, instruction: instruction))
            return chatTemplate.render([message], addGenerationPrompt: true)
        }
    }

    /// Prompt ids, with BOS when the model's files ask for one. Only the chat template's own markers are read
    /// as special tokens; the plain-text prompt is encoded as text whatever the problem holds.
    public func tokens(for problem: String, template: PromptTemplate, instruction: String? = nil) throws -> [Int32] {
        var ids = tokenizer.encode(try text(for: problem, template: template, instruction: instruction),
                                   parseSpecial: template == .chat)
        if tokenizer.addsBeginOfSequence, let bos = tokenizer.beginOfSequenceID, ids.first != bos {
            ids.insert(bos, at: 0)
        }
        return ids
    }
}
