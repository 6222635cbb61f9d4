import Foundation

/// An optional field that is always present on the wire: `null` when absent, never left out, so a reader never
/// has to tell "missing" from "none" (the schemas list such fields as required and nullable). A missing key
/// decodes as nil too.
@propertyWrapper
public struct Nullable<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = wrappedValue { try container.encode(value) } else { try container.encodeNil() }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }
}

extension Nullable: Equatable where Value: Equatable {}

extension KeyedDecodingContainer {
    /// Chosen over the generic `decode` by synthesized `Decodable`: a missing key is nil, as for a plain optional.
    /// (It asks `decodeNil(forKey:)` first, which is how the schema check tells "always present" from "optional".)
    public func decode<Value>(_ type: Nullable<Value>.Type, forKey key: Key) throws -> Nullable<Value> {
        guard contains(key), try !decodeNil(forKey: key) else { return Nullable(wrappedValue: nil) }
        return Nullable(wrappedValue: try decode(Value.self, forKey: key))
    }
}

/// Any JSON object, its content ignored: params of methods that take none (clients commonly send `{}`), and
/// objects a client may send that the daemon does not read. Reading every key accepts every key, also under the
/// daemon's strict decoding.
public struct NoParams: Codable, Sendable, Equatable {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        _ = try decoder.container(keyedBy: AnyKey.self).allKeys
    }

    public func encode(to encoder: Encoder) throws {
        _ = encoder.container(keyedBy: AnyKey.self)
    }
}

/// The `null` result (`shutdown`).
public struct NoResult: Codable, Sendable, Equatable {
    public init() {}
    public init(from decoder: Decoder) throws {}
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

/// A progress token or request id: JSON-RPC allows a string or an integer.
public enum ProgressToken: Codable, Sendable, Hashable {
    case int(Int64)
    case string(String)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}
