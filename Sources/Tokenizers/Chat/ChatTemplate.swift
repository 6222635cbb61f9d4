import Foundation

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    /// The model's files carry no chat template.
    case missing
    /// The template is not one this renderer reproduces; `reason` says which check failed.
    case unrecognized(reason: String, excerpt: String)

    public var description: String {
        switch self {
        case .missing:
            return "the model has no chat template; use ChatTemplate.chatML(defaultSystemPrompt:) explicitly if it is a ChatML model"
        case let .unrecognized(reason, excerpt):
            return "unrecognised chat template (\(reason)); it begins: \(excerpt). Use ChatTemplate.chatML(defaultSystemPrompt:) explicitly if the model expects ChatML"
        }
    }
}

/// Renders a conversation the way a model's chat template does, for the template families we recognise from the
/// template text (no Jinja interpreter): ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), optionally injecting a
/// default system message when the first message is not a system message (SmolLM2, Qwen2.5, Qwen2.5-Math).
public struct ChatTemplate: Sendable, Equatable {
    public enum Format: Sendable, Equatable {
        case chatML
    }

    public let format: Format
    /// Injected as the first message when the conversation does not start with a system message.
    public let defaultSystemPrompt: String?

    public static func chatML(defaultSystemPrompt: String? = nil) -> ChatTemplate {
        ChatTemplate(format: .chatML, defaultSystemPrompt: defaultSystemPrompt)
    }

    public init(format: Format, defaultSystemPrompt: String?) {
        self.format = format
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// Recognises a Jinja chat template's text, or throws `ChatTemplateError.unrecognized` saying why not.
    public init(recognizing template: String) throws {
        func reject(_ reason: String) -> ChatTemplateError {
            .unrecognized(reason: reason, excerpt: "\"\(template.prefix(120))\"")
        }
        guard template.contains("<|im_start|>"), template.contains("<|im_end|>") else {
            throw reject("no <|im_start|>/<|im_end|> markers, so it is not ChatML")
        }
        // Compare without spaces and with literal newlines spelled as Jinja escapes, so formatting differences
        // between templates do not matter.
        let canonical = template.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "\n", with: "\\n")
        guard !canonical.contains("content']|trim"), !canonical.contains("content|trim") else {
            throw reject("message content is trimmed")
        }
        let messageForms = [
            "'<|im_start|>'+message['role']+'\\n'+message['content']+'<|im_end|>",
            "'<|im_start|>'+message.role+'\\n'+message.content+'<|im_end|>",
        ]
        guard messageForms.contains(where: canonical.contains) else {
            throw reject("the per-message block is not '<|im_start|>' + role + '\\n' + content + '<|im_end|>'")
        }
        guard canonical.contains("ifadd_generation_prompt"), canonical.contains("'<|im_start|>assistant\\n'") else {
            throw reject("no add_generation_prompt block opening an assistant turn")
        }
        self.init(format: .chatML, defaultSystemPrompt: Self.literalSystemPrompt(in: template))
    }

    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var text = ""
        func append(_ role: String, _ content: String) {
            text += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n"
        }
        if let defaultSystemPrompt, let first = messages.first, first.role != "system" {
            append("system", defaultSystemPrompt)
        }
        for message in messages { append(message.role, message.content) }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return text
    }

    /// The text of a string literal `'<|im_start|>system\n...<|im_end|>...'` in the template: the system message
    /// the template writes itself when the conversation has none. A literal that ends before `<|im_end|>`
    /// (`'<|im_start|>system\n' + messages[0]['content']`) is the caller's system message, not a default.
    private static func literalSystemPrompt(in template: String) -> String? {
        let scalars = Array(template.unicodeScalars)
        let opener = Array("<|im_start|>system".unicodeScalars)
        let closer = Array("<|im_end|>".unicodeScalars)
        func matches(_ pattern: [Unicode.Scalar], at index: Int) -> Bool {
            index + pattern.count <= scalars.count && Array(scalars[index..<(index + pattern.count)]) == pattern
        }
        var start = 1
        while start + opener.count <= scalars.count {
            defer { start += 1 }
            let quote = scalars[start - 1]
            guard quote == "'" || quote == "\"", matches(opener, at: start) else { continue }
            var index = start + opener.count
            // The newline after the role: a literal one or the escape \n.
            if index < scalars.count, scalars[index] == "\n" {
                index += 1
            } else if matches(Array("\\n".unicodeScalars), at: index) {
                index += 2
            } else {
                continue
            }
            var prompt = String.UnicodeScalarView()
            while index < scalars.count {
                if matches(closer, at: index) { return String(prompt) }
                let scalar = scalars[index]
                if scalar == quote { break }
                if scalar == "\\", index + 1 < scalars.count {
                    let escaped = scalars[index + 1]
                    switch escaped {
                    case "n": prompt.append("\n")
                    case "t": prompt.append("\t")
                    case "r": prompt.append("\r")
                    default: prompt.append(escaped)
                    }
                    index += 2
                    continue
                }
                prompt.append(scalar)
                index += 1
            }
        }
        return nil
    }
}

extension Tokenizer {
    /// The chat template recognised from the model's files: `ChatTemplateError.missing` when they carry none,
    /// `.unrecognized` when it is not a family we render.
    public func chatTemplate() throws -> ChatTemplate {
        guard let chatTemplateText else { throw ChatTemplateError.missing }
        return try ChatTemplate(recognizing: chatTemplateText)
    }
}
