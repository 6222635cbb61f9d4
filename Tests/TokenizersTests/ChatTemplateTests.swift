import XCTest
@testable import Tokenizers

final class ChatTemplateTests: XCTestCase {
    /// SmolLM2-Instruct's template as stored in its GGUF (literal newlines inside the strings).
    static let smolLM2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    /// The non-tool part of Qwen2.5-Math-Instruct's template (escaped newlines, `\\boxed` in a Jinja string).
    static let qwen25Math = #"""
    {%- if tools %}
        {{- '<|im_start|>system\n' }}
        {%- if messages[0]['role'] == 'system' %}
            {{- messages[0]['content'] }}
        {%- else %}
            {{- 'Please reason step by step, and put your final answer within \\boxed{}.' }}
        {%- endif %}
    {%- else %}
        {%- if messages[0]['role'] == 'system' %}
            {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
        {%- else %}
            {{- '<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
    {%- for message in messages %}
        {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
            {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
        {%- endif %}
    {%- endfor %}
    {%- if add_generation_prompt %}
        {{- '<|im_start|>assistant\n' }}
    {%- endif %}
    """#

    func testSmolLM2InjectsItsDefaultSystemPrompt() throws {
        let template = try ChatTemplate(recognizing: Self.smolLM2)
        XCTAssertEqual(template.defaultSystemPrompt, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        XCTAssertEqual(
            template.render([ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    func testQwenMathDefaultSystemPromptIsUnescaped() throws {
        let template = try ChatTemplate(recognizing: Self.qwen25Math)
        XCTAssertEqual(template.defaultSystemPrompt, #"Please reason step by step, and put your final answer within \boxed{}."#)
    }

    func testSystemMessageReplacesTheDefault() throws {
        let template = try ChatTemplate(recognizing: Self.smolLM2)
        let messages = [
            ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "2+2?"),
            ChatMessage(role: "assistant", content: "4"), ChatMessage(role: "user", content: "and 3+3?"),
        ]
        XCTAssertEqual(
            template.render(messages, addGenerationPrompt: false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nand 3+3?<|im_end|>\n")
        XCTAssertEqual(template.render([], addGenerationPrompt: true), "<|im_start|>assistant\n")
    }

    func testPlainChatMLWithoutDefault() throws {
        let plain = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        XCTAssertEqual(try ChatTemplate(recognizing: plain), .chatML(defaultSystemPrompt: nil))
    }

    func testUnrecognisedTemplatesAreErrors() throws {
        let llama3 = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        XCTAssertThrowsError(try ChatTemplate(recognizing: llama3)) { error in
            guard case let .unrecognized(reason, _)? = error as? ChatTemplateError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("not ChatML"), reason)
        }
        let trimmed = Self.smolLM2.replacingOccurrences(of: "message['content']", with: "message['content'] | trim")
        XCTAssertThrowsError(try ChatTemplate(recognizing: trimmed)) { error in
            XCTAssertTrue("\(error)".contains("trimmed"), "\(error)")
        }
        let noGenerationPrompt = Self.smolLM2.components(separatedBy: "{% if add_generation_prompt %}")[0]
        XCTAssertThrowsError(try ChatTemplate(recognizing: noGenerationPrompt))
    }
}
