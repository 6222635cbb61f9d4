/// A flag that encodes as the number 1 or 0, for objects whose values are all numbers (the step metrics: the
/// wire's `metrics` object and a metrics JSONL line hold numbers and nulls only). Decodes 0 and 1; anything else
/// is a `DecodingError` naming the value.
@propertyWrapper
public struct EncodesAsZeroOrOne: Sendable, Equatable {
    public var wrappedValue: Bool

    public init(wrappedValue: Bool) { self.wrappedValue = wrappedValue }
}

extension EncodesAsZeroOrOne: Codable {
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue ? 1 : 0)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let number = try container.decode(Double.self)
        guard number == 0 || number == 1 else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "flag \(number) is neither 0 nor 1")
        }
        wrappedValue = number == 1
    }
}
