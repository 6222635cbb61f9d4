import Foundation

/// The shape of a `Decodable` type as its `init(from:)` reads it: which members of which object it asks for, and
/// whether each must be present (`decode`) or may be absent (`decodeIfPresent`). Recorded by running the type's
/// own decoding against a decoder that answers every question with a placeholder, so the shape is the type's
/// real coding keys, flattened groups and property wrappers included.
indirect enum Shape: Equatable {
    /// A string, number, boolean or enum.
    case scalar
    /// A JSON object with named members.
    case object([String: Field])
    /// A JSON object of any members (a dictionary, or a type that takes every member as its own without naming any).
    case map
    case array(Shape)

    struct Field: Equatable {
        var required: Bool
        var shape: Shape
    }

    static func of<T: Decodable>(_ type: T.Type) throws -> Shape {
        let recorder = Recorder()
        _ = try recorder.value(type, at: "")
        return recorder.shape(at: "")
    }
}

/// Keeps what was asked at each path (`solve.tool_calls[]`).
private final class Recorder {
    struct ObjectRecord {
        var fields: [String: Bool] = [:] // name → required
        var readsAllKeys = false
    }
    var objects: [String: ObjectRecord] = [:]
    var arrays: Set<String> = []

    func shape(at path: String) -> Shape {
        if arrays.contains(path) { return .array(shape(at: path + "[]")) }
        guard let record = objects[path] else { return .scalar }
        if record.fields.isEmpty && record.readsAllKeys { return .map }
        var fields: [String: Shape.Field] = [:]
        for (name, required) in record.fields {
            fields[name] = Shape.Field(required: required, shape: shape(at: path + "." + name))
        }
        return .object(fields)
    }

    func value<T: Decodable>(_ type: T.Type, at path: String) throws -> T {
        if let first = firstCase(type) { return first }
        switch type {
        case is String.Type: return "" as! T
        case is Bool.Type: return false as! T
        case is Double.Type: return 0.0 as! T
        case is Float.Type: return Float(0) as! T
        case is Int.Type: return 0 as! T
        case is Int64.Type: return Int64(0) as! T
        case is Int32.Type: return Int32(0) as! T
        case is UInt64.Type: return UInt64(0) as! T
        case is UInt8.Type: return UInt8(0) as! T
        default: return try T(from: RecordingDecoder(recorder: self, path: path))
        }
    }

    private func firstCase<T>(_ type: T.Type) -> T? {
        guard let iterable = type as? any CaseIterable.Type else { return nil }
        return firstOf(iterable) as? T
    }

    private func firstOf<C: CaseIterable>(_ type: C.Type) -> Any? { type.allCases.first }
}

private struct RecordingDecoder: Decoder {
    let recorder: Recorder
    let path: String
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if recorder.objects[path] == nil { recorder.objects[path] = Recorder.ObjectRecord() }
        return KeyedDecodingContainer(RecordingKeyed<Key>(recorder: recorder, path: path))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        recorder.arrays.insert(path)
        return RecordingUnkeyed(recorder: recorder, path: path + "[]")
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        RecordingSingle(recorder: recorder, path: path)
    }
}

private struct RecordingKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let recorder: Recorder
    let path: String
    var codingPath: [CodingKey] { [] }

    var allKeys: [Key] {
        recorder.objects[path]?.readsAllKeys = true
        return []
    }

    private func note(_ key: Key, required: Bool) {
        let old = recorder.objects[path]?.fields[key.stringValue] ?? false
        recorder.objects[path]?.fields[key.stringValue] = old || required
    }

    func contains(_ key: Key) -> Bool {
        note(key, required: false)
        return true
    }

    func decodeNil(forKey key: Key) throws -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        note(key, required: true)
        return try recorder.value(type, at: path + "." + key.stringValue)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        note(key, required: false)
        return try recorder.value(type, at: path + "." + key.stringValue)
    }

    // The standard library's defaults for these call `decode`, which would record the field as required.
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try optional(type, key) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try optional(type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try optional(type, key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try optional(type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optional(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optional(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optional(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optional(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optional(type, key) }

    private func optional<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        note(key, required: false)
        return try recorder.value(type, at: path + "." + key.stringValue)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        note(key, required: true)
        return try RecordingDecoder(recorder: recorder, path: path + "." + key.stringValue).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        note(key, required: true)
        return try RecordingDecoder(recorder: recorder, path: path + "." + key.stringValue).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { RecordingDecoder(recorder: recorder, path: path) }

    func superDecoder(forKey key: Key) throws -> Decoder {
        note(key, required: true)
        return RecordingDecoder(recorder: recorder, path: path + "." + key.stringValue)
    }
}

/// One element: enough to record the element's shape.
private struct RecordingUnkeyed: UnkeyedDecodingContainer {
    let recorder: Recorder
    let path: String
    var codingPath: [CodingKey] { [] }
    var count: Int? { 1 }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex >= 1 }

    init(recorder: Recorder, path: String) {
        self.recorder = recorder
        self.path = path
    }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        currentIndex += 1
        return try recorder.value(type, at: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        currentIndex += 1
        return try RecordingDecoder(recorder: recorder, path: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        currentIndex += 1
        return try RecordingDecoder(recorder: recorder, path: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        currentIndex += 1
        return RecordingDecoder(recorder: recorder, path: path)
    }
}

private struct RecordingSingle: SingleValueDecodingContainer {
    let recorder: Recorder
    let path: String
    var codingPath: [CodingKey] { [] }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try recorder.value(type, at: path) }
}
