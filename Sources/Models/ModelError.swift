/// Errors of model construction and inference. Format-level problems of the files are `ModelFormatError`.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// `key`: the entry that named it (`general.architecture` in a GGUF file, `model_type` in config.json).
    case unknownArchitecture(String, key: String, source: String)
    case invalidConfiguration(source: String, detail: String)
    case missingTensors([String], source: String)
    case unusedTensors([String], source: String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int], source: String)
    case unknownSequence(SequenceID)
    case duplicateSequence(SequenceID)
    case emptyStep(SequenceID)
    case tokenOutOfRange(token: Int32, vocabularySize: Int, sequence: SequenceID)
    case contextOverflow(sequence: SequenceID, cached: Int, adding: Int, contextLength: Int)
    case sequencesStillCached(Int)

    public var description: String {
        switch self {
        case let .unknownArchitecture(name, key, source):
            let supported = key == "model_type" ? "llama, qwen2, gemma3_text" : "llama, qwen2, gemma3"
            return "\(source): \(key) is \"\(name)\", an architecture torl does not run (supported: \(supported))"
        case let .invalidConfiguration(source, detail):
            return "\(source): invalid configuration: \(detail)"
        case let .missingTensors(names, source):
            return "\(source): missing tensors: \(names.joined(separator: ", "))"
        case let .unusedTensors(names, source):
            return "\(source): tensors the model does not use: \(names.joined(separator: ", "))"
        case let .shapeMismatch(tensor, expected, found, source):
            return "\(source): tensor \(tensor) has shape \(found), expected \(expected)"
        case let .unknownSequence(sequence):
            return "\(sequence) does not exist (never made or already released)"
        case let .duplicateSequence(sequence):
            return "\(sequence) appears in more than one step of one forward call"
        case let .emptyStep(sequence):
            return "the step for \(sequence) has no tokens"
        case let .tokenOutOfRange(token, vocabularySize, sequence):
            return "token \(token) for \(sequence) is outside the vocabulary 0..<\(vocabularySize)"
        case let .contextOverflow(sequence, cached, adding, contextLength):
            return "\(sequence) would hold \(cached + adding) tokens (\(cached) cached + \(adding) new), more than the context length \(contextLength)"
        case let .sequencesStillCached(count):
            return "cannot replace the weights while \(count) sequences hold cached keys and values computed with the old ones"
        }
    }
}
