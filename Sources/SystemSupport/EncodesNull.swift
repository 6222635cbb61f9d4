/// An optional field that is always present in JSON: `null` when absent, never left out, so a reader of the wire
/// or of a metrics file never has to tell "missing" from "none" (the schemas list such fields as required and
/// nullable). Decoding takes a missing key as nil too.
@propertyWrapper
public struct EncodesNull<Value> {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }
}

extension EncodesNull: Encodable where Value: Encodable {
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = wrappedValue { try container.encode(value) } else { try container.encodeNil() }
    }
}

extension EncodesNull: Decodable where Value: Decodable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }
}

extension KeyedDecodingContainer {
    /// Chosen over the generic `decode` by synthesized `Decodable`, so that a missing key is nil, as for a plain
    /// optional property.
    public func decode<Value: Decodable>(_ type: EncodesNull<Value>.Type, forKey key: Key) throws -> EncodesNull<Value> {
        EncodesNull(wrappedValue: try decodeIfPresent(Value.self, forKey: key))
    }
}

extension EncodesNull: Sendable where Value: Sendable {}
extension EncodesNull: Equatable where Value: Equatable {}

/// A number that is `null` on the wire when it is NaN or infinite (JSON has neither), and NaN when read back
/// from `null`. For figures that exist for every step but can be poisoned by non-finite arithmetic (the loss,
/// the gradient norm of a step whose update was skipped): such a step is still reported, never an encoding error.
@propertyWrapper
public struct NullWhenNotFinite: Sendable, Equatable {
    public var wrappedValue: Double

    public init(wrappedValue: Double) { self.wrappedValue = wrappedValue }

    /// NaN equals NaN here: two reports of the same poisoned step are the same report.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.wrappedValue == rhs.wrappedValue || (lhs.wrappedValue.isNaN && rhs.wrappedValue.isNaN)
    }
}

extension NullWhenNotFinite: Codable {
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if wrappedValue.isFinite { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? .nan : try container.decode(Double.self)
    }
}
