import Foundation

/// Encodes an `Encodable` straight into a `JSONValue`: a handler's result becomes the tree the frame serializer
/// writes (no `Codable` -> bytes -> `JSONValue` round trip). Numbers come out as `JSONEncoder` writes them:
/// integers exact, integral reals without a fraction, a `Float` as its shortest decimal (0.1, not
/// 0.10000000149011612); a non-finite number is an error, as JSON has none.
public struct JSONValueEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let already = value as? JSONValue { return already }
        let root = Slot()
        try box(value, into: root, path: [])
        return root.value ?? .object([:])
    }
}

/// A place a value is written to; containers fill theirs in place, so nested containers may outlive the call
/// that made them, as the `Encoder` protocol allows.
private final class Slot {
    enum Content {
        case empty
        case value(JSONValue)
        case object(ObjectStore)
        case array(ArrayStore)
    }
    var content = Content.empty

    var value: JSONValue? {
        switch content {
        case .empty: return nil
        case .value(let value): return value
        case .object(let store): return .object(store.members.compactMapValues(\.value))
        case .array(let store): return .array(store.items.map { $0.value ?? .null })
        }
    }

    func object() -> ObjectStore {
        if case .object(let store) = content { return store }
        let store = ObjectStore()
        content = .object(store)
        return store
    }

    func array() -> ArrayStore {
        if case .array(let store) = content { return store }
        let store = ArrayStore()
        content = .array(store)
        return store
    }
}

private final class ObjectStore { var members: [String: Slot] = [:] }
private final class ArrayStore { var items: [Slot] = [] }

private func box<T: Encodable>(_ value: T, into slot: Slot, path: [CodingKey]) throws {
    func number(_ double: Double) throws -> JSONValue {
        guard double.isFinite else {
            throw EncodingError.invalidValue(double, .init(codingPath: path, debugDescription: "\(double) is not a JSON number"))
        }
        // JSONEncoder writes an integral number without a fraction ("3", not "3.0"); the frame parser reads that
        // back as an integer. The same tree here keeps the wire as it was.
        if double.rounded() == double && abs(double) < 9.0e15 { return .int(Int64(double)) }
        return .double(double)
    }
    switch value {
    case let json as JSONValue: slot.content = .value(json)
    case let text as String: slot.content = .value(.string(text))
    case let flag as Bool: slot.content = .value(.bool(flag))
    case let real as Double: slot.content = .value(try number(real))
    // Through its shortest decimal form, as JSONEncoder writes a Float.
    case let real as Float: slot.content = .value(try number(real.isFinite ? Double("\(real)")! : Double(real)))
    // Every integer width (they encode themselves through a single-value container, which would come back here);
    // beyond Int64 as the nearest double, as the frame parser reads such a literal.
    case let integer as any BinaryInteger:
        slot.content = .value(Int64(exactly: integer).map(JSONValue.int) ?? .double(Double(integer)))
    default:
        try value.encode(to: ValueEncoder(slot: slot, codingPath: path))
    }
}

private struct ValueEncoder: Encoder {
    let slot: Slot
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedWriter<Key>(store: slot.object(), codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        UnkeyedWriter(store: slot.array(), codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleWriter(slot: slot, codingPath: codingPath)
    }
}

private struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let store: ObjectStore
    let codingPath: [CodingKey]

    private func slot(_ key: Key) -> Slot {
        if let existing = store.members[key.stringValue] { return existing }
        let slot = Slot()
        store.members[key.stringValue] = slot
        return slot
    }

    mutating func encodeNil(forKey key: Key) throws { slot(key).content = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try box(value, into: slot(key), path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(KeyedWriter<NestedKey>(store: slot(key).object(), codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        UnkeyedWriter(store: slot(key).array(), codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> Encoder {
        ValueEncoder(slot: slot(Key(stringValue: "super")!), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        ValueEncoder(slot: slot(key), codingPath: codingPath + [key])
    }
}

private struct UnkeyedWriter: UnkeyedEncodingContainer {
    let store: ArrayStore
    let codingPath: [CodingKey]
    var count: Int { store.items.count }

    private func append() -> Slot {
        let slot = Slot()
        store.items.append(slot)
        return slot
    }

    mutating func encodeNil() throws { append().content = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try box(value, into: append(), path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = codingPath + [IndexKey(count)]
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(store: append().object(), codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let path = codingPath + [IndexKey(count)]
        return UnkeyedWriter(store: append().array(), codingPath: path)
    }

    mutating func superEncoder() -> Encoder {
        let path = codingPath + [IndexKey(count)]
        return ValueEncoder(slot: append(), codingPath: path)
    }
}

private struct SingleWriter: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [CodingKey]

    mutating func encodeNil() throws { slot.content = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try box(value, into: slot, path: codingPath)
    }
}
