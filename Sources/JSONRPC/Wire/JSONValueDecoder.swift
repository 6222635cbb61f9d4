import Foundation

/// Decodes a `Decodable` straight from a parsed `JSONValue`: a request's params are parsed once, by the frame
/// parser, and read from that tree (no bytes -> `JSONValue` -> bytes -> `Codable` round trip).
///
/// Errors are Foundation's `DecodingError`s with the coding path, so `ParamsDecoding` names the field as before.
/// With `strict`, an object member that the decoded type never asked for is an error naming it (a misspelled
/// optional field would otherwise be silently ignored). A type that reads `allKeys` of a container takes every
/// member of that object as its own (maps, and types that are lenient on purpose).
public struct JSONValueDecoder {
    public var strict: Bool

    public init(strict: Bool = false) { self.strict = strict }

    /// An object member no type asked for: its dotted path and the members that were asked for at that place.
    public struct UnknownField: Error, Sendable, Equatable {
        /// `limits.wall_timeout` or `problems[1].solution`.
        public var path: String
        public var accepted: [String]
    }

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        if let already = value as? T { return already }
        let ledger = KeyLedger()
        let decoded = try T(from: ValueDecoder(value: value, codingPath: [], ledger: ledger))
        if strict, let unknown = ledger.firstUnknown(in: value) { throw unknown }
        return decoded
    }
}

/// Which members each decoded object was asked for, keyed by the object's path.
final class KeyLedger {
    private var asked: [String: Set<String>] = [:]
    private var open: Set<String> = []

    static func key(_ path: [CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    func opened(_ path: [CodingKey]) { if asked[Self.key(path)] == nil { asked[Self.key(path)] = [] } }
    func ask(_ name: String, at path: [CodingKey]) { asked[Self.key(path), default: []].insert(name) }
    func acceptAll(at path: [CodingKey]) { open.insert(Self.key(path)) }

    /// The first member (in sorted order, depth first) of an object read through a keyed container that the
    /// reader did not ask for. `field` is the dotted path of `value` (`options.stop[2]`), `key` its ledger key.
    func firstUnknown(in value: JSONValue, field: String = "", key: String = "") -> JSONValueDecoder.UnknownField? {
        switch value {
        case .object(let members):
            let names = members.keys.sorted()
            if let asked = asked[key], !open.contains(key), let stray = names.first(where: { !asked.contains($0) }) {
                return .init(path: field.isEmpty ? stray : "\(field).\(stray)", accepted: asked.sorted())
            }
            for name in names {
                let below = field.isEmpty ? name : "\(field).\(name)"
                if let found = firstUnknown(in: members[name]!, field: below, key: key + "." + name) { return found }
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstUnknown(in: item, field: field + "[\(index)]", key: key + "[\(index)]") { return found }
            }
        default: break
        }
        return nil
    }
}

struct IndexKey: CodingKey {
    var stringValue: String { "\(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    let ledger: KeyLedger
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw DecodingError.typeMismatch([String: JSONValue].self, .init(
                codingPath: codingPath, debugDescription: "expected an object, found \(value.typeName)"))
        }
        ledger.opened(codingPath)
        return KeyedDecodingContainer(KeyedReader<Key>(members: members, codingPath: codingPath, ledger: ledger))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = value else {
            throw DecodingError.typeMismatch([JSONValue].self, .init(
                codingPath: codingPath, debugDescription: "expected an array, found \(value.typeName)"))
        }
        return UnkeyedReader(items: items, codingPath: codingPath, ledger: ledger)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SingleReader(value: value, codingPath: codingPath, ledger: ledger)
    }
}

/// Scalar conversions shared by the three container kinds.
private func scalar<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: [CodingKey], _ ledger: KeyLedger) throws -> T {
    func mismatch() -> DecodingError {
        if value == .null {
            return DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "found null"))
        }
        return DecodingError.typeMismatch(type, .init(codingPath: path, debugDescription: "found \(value.typeName)"))
    }
    func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
        switch value {
        case .int(let number): if let exact = I(exactly: number) { return exact }
        case .double(let number): if let exact = I(exactly: number) { return exact }
        default: break
        }
        throw mismatch()
    }
    switch type {
    case is JSONValue.Type:
        // A JSON value is whatever it holds: every member below it is its own.
        ledger.acceptAll(at: path)
        return value as! T
    case is String.Type:
        guard case .string(let text) = value else { throw mismatch() }
        return text as! T
    case is Bool.Type:
        guard case .bool(let flag) = value else { throw mismatch() }
        return flag as! T
    case is Double.Type, is Float.Type:
        let number: Double
        switch value {
        case .int(let integer): number = Double(integer)
        case .double(let real): number = real
        default: throw mismatch()
        }
        return (type == Float.self ? Float(number) as Any : number as Any) as! T
    case is Int.Type: return try integer(Int.self) as! T
    case is Int64.Type: return try integer(Int64.self) as! T
    case is Int32.Type: return try integer(Int32.self) as! T
    case is Int16.Type: return try integer(Int16.self) as! T
    case is Int8.Type: return try integer(Int8.self) as! T
    case is UInt.Type: return try integer(UInt.self) as! T
    case is UInt64.Type: return try integer(UInt64.self) as! T
    case is UInt32.Type: return try integer(UInt32.self) as! T
    case is UInt16.Type: return try integer(UInt16.self) as! T
    case is UInt8.Type: return try integer(UInt8.self) as! T
    default:
        // Every standard scalar is handled above: they decode themselves through a single-value container, which
        // would come back here.
        return try T(from: ValueDecoder(value: value, codingPath: path, ledger: ledger))
    }
}

private struct KeyedReader<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [CodingKey]
    let ledger: KeyLedger

    var allKeys: [Key] {
        ledger.acceptAll(at: codingPath)
        return members.keys.compactMap { Key(stringValue: $0) }
    }

    func contains(_ key: Key) -> Bool {
        ledger.ask(key.stringValue, at: codingPath)
        return members[key.stringValue] != nil
    }

    private func member(_ key: Key) throws -> JSONValue {
        ledger.ask(key.stringValue, at: codingPath)
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no member \(key.stringValue)"))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try scalar(type, try member(key), codingPath + [key], ledger)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        ledger.ask(key.stringValue, at: codingPath)
        guard let value = members[key.stringValue], value != .null else { return nil }
        return try scalar(type, value, codingPath + [key], ledger)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try ValueDecoder(value: try member(key), codingPath: codingPath + [key], ledger: ledger).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try ValueDecoder(value: try member(key), codingPath: codingPath + [key], ledger: ledger).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        ValueDecoder(value: .object(members), codingPath: codingPath, ledger: ledger)
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        ValueDecoder(value: try member(key), codingPath: codingPath + [key], ledger: ledger)
    }
}

private struct UnkeyedReader: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [CodingKey]
    let ledger: KeyLedger
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [CodingKey], ledger: KeyLedger) {
        self.items = items
        self.codingPath = codingPath
        self.ledger = ledger
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> (JSONValue, [CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(JSONValue.self, .init(codingPath: codingPath + [IndexKey(currentIndex)],
                                                                     debugDescription: "unkeyed container is at its end"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, path) = try next()
        return try scalar(type, value, path, ledger)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (value, path) = try next()
        return try ValueDecoder(value: value, codingPath: path, ledger: ledger).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let (value, path) = try next()
        return try ValueDecoder(value: value, codingPath: path, ledger: ledger).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let (value, path) = try next()
        return ValueDecoder(value: value, codingPath: path, ledger: ledger)
    }
}

private struct SingleReader: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]
    let ledger: KeyLedger

    func decodeNil() -> Bool { value == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try scalar(type, value, codingPath, ledger)
    }
}
