import Foundation

/// A math problem with its reference answer, as stored in the project's JSONL problem sets
/// (`data/math500.jsonl`, `data/gsm8k_test.jsonl`, `data/train.jsonl`, or a synthetic set).
public struct Problem: Codable, Sendable, Equatable {
    public var id: String
    public var problem: String
    public var answer: String

    public init(id: String, problem: String, answer: String) {
        self.id = id
        self.problem = problem
        self.answer = answer
    }
}

public enum ProblemSetError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case empty(path: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read problem set \(path): \(reason)"
        case let .badLine(path, line, reason): return "\(path):\(line): \(reason)"
        case let .empty(path): return "problem set \(path) holds no problems"
        }
    }
}

public enum ProblemSet {
    /// Reads a JSONL file of objects with `problem` and `answer` (strings; a numeric answer is accepted and
    /// written as text) and an optional `id` (the line number when absent). Other fields are ignored.
    public static func load(path: String, limit: Int? = nil) throws -> [Problem] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ProblemSetError.cannotRead(path: path, reason: error.localizedDescription)
        }
        return try parse(data, path: path, limit: limit)
    }

    public static func parse(_ data: Data, path: String, limit: Int? = nil) throws -> [Problem] {
        var problems: [Problem] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if let limit, problems.count >= limit { break }
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) { continue }
            let record: ProblemRecord
            do { record = try JSONDecoder().decode(ProblemRecord.self, from: Data(line)) } catch let error as DecodingError {
                throw ProblemSetError.badLine(path: path, line: lineNumber, reason: Self.explain(error))
            } catch {
                throw ProblemSetError.badLine(path: path, line: lineNumber, reason: "not valid JSON")
            }
            let text = record.problem, answer = record.answer.text
            let id = record.id?.text ?? "\(lineNumber)"
            problems.append(Problem(id: id, problem: text, answer: answer))
        }
        guard !problems.isEmpty else { throw ProblemSetError.empty(path: path) }
        return problems
    }
}

/// One line of a problem set; numbers are accepted where text is expected (GSM8K-style integer answers, numeric ids).
private struct ProblemRecord: Decodable {
    var id: TextOrNumber?
    var problem: String
    var answer: TextOrNumber
}

private struct TextOrNumber: Decodable {
    var text: String
    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let s = try? container.decode(String.self) { text = s }
        else if let i = try? container.decode(Int64.self) { text = String(i) }
        else if let d = try? container.decode(Double.self) { text = String(d) }
        else { throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a string or a number")) }
    }
}

extension ProblemSet {
    static func explain(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, _): return "field \"\(key.stringValue)\" is missing"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field \"\(field)\": \(context.debugDescription)"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "cannot decode the line"
        }
    }
}
