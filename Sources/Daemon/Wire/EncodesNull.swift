/// An optional result field that is always present on the wire: `null` when absent (the schemas list such
/// fields as required and nullable, so clients never have to tell "missing" from "none").
@propertyWrapper
struct EncodesNull<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value = wrappedValue { try container.encode(value) } else { try container.encodeNil() }
    }
}
