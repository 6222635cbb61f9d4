import Foundation

/// Params for methods that take none: absent params or any object (extra members are ignored, as clients
/// commonly send `{}`). Positional params are rejected, since there is nothing to bind them to.
public struct EmptyParams: Codable, Sendable, Equatable {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init() {}

    /// Reading every key accepts every key, also under strict decoding.
    public init(from decoder: Decoder) throws {
        _ = try decoder.container(keyedBy: AnyKey.self).allKeys
    }

    public func encode(to encoder: Encoder) throws {
        _ = encoder.container(keyedBy: AnyKey.self)
    }
}

/// Result for methods that answer `null` (`shutdown`, fire-and-forget commands).
public struct NullResult: Codable, Sendable, Equatable {
    public init() {}

    public init(from decoder: Decoder) throws {}

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

public enum ParamsDecoding {
    /// Decodes a method's params straight from the parsed message; a failure becomes -32602 naming the field (the
    /// DecodingError's coding path) and why. Absent params decode as `{}` so that types whose fields are all
    /// optional accept them. `strict`: a member the type does not read is -32602 naming it, with what is accepted.
    public static func decode<Params: Decodable>(_ type: Params.Type, from params: JSONValue?,
                                                 strict: Bool = false) throws -> Params {
        do {
            return try JSONValueDecoder(strict: strict).decode(type, from: params ?? .object([:]))
        } catch let error as DecodingError {
            throw invalidParams(for: error, params: params)
        } catch let unknown as JSONValueDecoder.UnknownField {
            throw RPCError.invalidParams(field: unknown.path,
                                         reason: "unknown field (accepted: \(unknown.accepted.joined(separator: ", ")))")
        }
    }

    static func invalidParams(for error: DecodingError, params: JSONValue?) -> RPCError {
        switch error {
        case .keyNotFound(let key, let context):
            return .invalidParams(field: fieldPath(context.codingPath + [key]), reason: "required field is missing")
        case .valueNotFound(let type, let context):
            return .invalidParams(field: fieldPath(context.codingPath), reason: "expected \(typeDescription(type)), found null")
        case .typeMismatch(let type, let context):
            let found = value(at: context.codingPath, in: params ?? .object([:]))?.typeName
            let reason = "expected \(typeDescription(type))" + (found.map { ", found \($0)" } ?? "")
            return .invalidParams(field: fieldPath(context.codingPath), reason: reason)
        case .dataCorrupted(let context):
            return .invalidParams(field: fieldPath(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .invalidParams(field: "", reason: String(describing: error))
        }
    }

    /// `options.stop[2]`: keys joined by dots, array positions in brackets.
    static func fieldPath(_ path: [CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    private static func value(at path: [CodingKey], in root: JSONValue) -> JSONValue? {
        var current = root
        for key in path {
            if let index = key.intValue, case .array(let items) = current {
                guard items.indices.contains(index) else { return nil }
                current = items[index]
            } else if case .object(let members) = current, let next = members[key.stringValue] {
                current = next
            } else {
                return nil
            }
        }
        return current
    }

    private static func typeDescription(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type, is UInt32.Type:
            return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") || name.hasPrefix("[") { return "an array" }
            if name.hasPrefix("Dictionary<") { return "an object" }
            return name == "JSONValue" ? "a JSON value" : "an object (\(name))"
        }
    }
}
