import Foundation

/// ggml tensor element types as numbered in the GGUF file format. Only some are dequantizable (see `Dequantize`);
/// the others are named so that errors can say which type a file used.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30

    /// (elements per block, bytes per block) for the types whose layout this reader knows.
    public var blockLayout: (elements: Int, bytes: Int)? {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 36)
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64, .f64: return (1, 8)
        default: return nil
        }
    }

    public var name: String { String(describing: self).uppercased() }
}

/// A GGUF metadata value.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var intValue: Int? {
        switch self {
        case let .uint(v): return v <= UInt64(Int.max) ? Int(v) : nil
        case let .int(v): return Int(v)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case let .float(v): return v
        case let .uint(v): return Double(v)
        case let .int(v): return Double(v)
        default: return nil
        }
    }
    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var arrayValue: [GGUFValue]? { if case let .array(a) = self { return a } else { return nil } }
}

/// One entry of the tensor table. `dimensions` is in ggml order: dimensions[0] is the innermost (contiguous)
/// axis, so a PyTorch weight of shape [out, in] appears as [in, out].
public struct GGUFTensorInfo: Sendable {
    public let name: String
    public let dimensions: [Int]
    public let type: GGMLType
    /// Absolute offset of the first byte in the file.
    public let fileOffset: Int
    public let byteCount: Int
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A parsed GGUF file (versions 2 and 3): metadata, tensor table and the mapped data section.
/// Every read is bounds-checked, so a truncated or corrupt file is an error naming what was being read.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    public let tensorsByName: [String: GGUFTensorInfo]
    public let alignment: Int
    public let file: MappedFile

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var reader = GGUFReader(file: file)
        let magic = try reader.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            throw ModelFormatError.badMagic(path: path, found: String(format: "0x%08x", magic))
        }
        version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw ModelFormatError.unsupportedVersion(path: path, version: version) }
        let tensorCount = try reader.readCount("tensor count")
        let metadataCount = try reader.readCount("metadata count")

        var metadata: [String: GGUFValue] = [:]
        for index in 0..<metadataCount {
            let key = try reader.readString("metadata key #\(index)")
            let rawType = try reader.read(UInt32.self, "type of metadata \(key)")
            metadata[key] = try reader.readValue(rawType: rawType, what: "metadata \(key)", depth: 0)
        }
        self.metadata = metadata

        let alignment = metadata["general.alignment"]?.intValue ?? 32
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw ModelFormatError.malformed(path: path, detail: "general.alignment \(alignment) is not a power of two")
        }
        self.alignment = alignment

        var pending: [(name: String, dims: [Int], type: GGMLType, offset: Int)] = []
        pending.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let name = try reader.readString("name of tensor #\(index)")
            let rank = try reader.read(UInt32.self, "rank of tensor \(name)")
            guard rank >= 1, rank <= 4 else {
                throw ModelFormatError.malformed(path: path, detail: "tensor \(name) has rank \(rank) (1...4 expected)")
            }
            var dims: [Int] = []
            for _ in 0..<rank {
                let d = try reader.read(UInt64.self, "shape of tensor \(name)")
                guard d > 0, d < 1 << 40 else {
                    throw ModelFormatError.malformed(path: path, detail: "tensor \(name) has dimension \(d)")
                }
                dims.append(Int(d))
            }
            let rawType = try reader.read(UInt32.self, "dtype of tensor \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw ModelFormatError.unsupportedDType(path: path, tensor: name, dtype: "ggml type \(rawType)")
            }
            let offset = try reader.read(UInt64.self, "offset of tensor \(name)")
            guard offset < UInt64(file.count) else {
                throw ModelFormatError.truncated(path: path, detail: "tensor \(name) starts at \(offset), past the end")
            }
            pending.append((name, dims, type, Int(offset)))
        }

        let dataStart = (reader.position + alignment - 1) / alignment * alignment
        var tensors: [GGUFTensorInfo] = []
        var byName: [String: GGUFTensorInfo] = [:]
        for t in pending {
            guard let layout = t.type.blockLayout else {
                throw ModelFormatError.unsupportedDType(path: path, tensor: t.name, dtype: t.type.name)
            }
            guard let elements = checkedElementCount(t.dims) else {
                throw ModelFormatError.malformed(path: path, detail: "tensor \(t.name) has an impossible shape \(t.dims)")
            }
            guard t.dims[0] % layout.elements == 0 else {
                throw ModelFormatError.malformed(
                    path: path, detail: "tensor \(t.name): row length \(t.dims[0]) is not a multiple of the \(t.type.name) block size \(layout.elements)")
            }
            let bytes = elements / layout.elements * layout.bytes
            let absolute = dataStart + t.offset
            _ = try file.bytes(at: absolute, length: bytes, what: "data of tensor \(t.name)")
            guard byName[t.name] == nil else {
                throw ModelFormatError.malformed(path: path, detail: "tensor \(t.name) appears twice")
            }
            let info = GGUFTensorInfo(name: t.name, dimensions: t.dims, type: t.type, fileOffset: absolute, byteCount: bytes)
            tensors.append(info)
            byName[t.name] = info
        }
        self.tensors = tensors
        tensorsByName = byName
    }

    /// The raw (possibly quantized) bytes of a tensor.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        // Bounds were checked when the table was read.
        UnsafeRawBufferPointer(start: file.base + tensor.fileOffset, count: tensor.byteCount)
    }

    // MARK: typed metadata access, with errors naming the key

    public func requiredInt(_ key: String) throws -> Int {
        guard let v = metadata[key] else { throw ModelFormatError.missingMetadata(path: path, key: key) }
        guard let i = v.intValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) is not an integer") }
        return i
    }
    public func requiredString(_ key: String) throws -> String {
        guard let v = metadata[key] else { throw ModelFormatError.missingMetadata(path: path, key: key) }
        guard let s = v.stringValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) is not a string") }
        return s
    }
    public func optionalDouble(_ key: String) throws -> Double? {
        guard let v = metadata[key] else { return nil }
        guard let d = v.doubleValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) is not a number") }
        return d
    }
    public func optionalInt(_ key: String) throws -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.intValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) is not an integer") }
        return i
    }
    public func stringArray(_ key: String) throws -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard let items = v.arrayValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) is not an array") }
        return try items.map {
            guard let s = $0.stringValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) holds a non-string") }
            return s
        }
    }
    public func intArray(_ key: String) throws -> [Int]? {
        guard let v = metadata[key] else { return nil }
        guard let items = v.arrayValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) is not an array") }
        return try items.map {
            guard let i = $0.intValue else { throw ModelFormatError.malformed(path: path, detail: "\(key) holds a non-integer") }
            return i
        }
    }
}

/// Sequential little-endian reader over the mapped header.
private struct GGUFReader {
    let file: MappedFile
    var position = 0
    /// Nested arrays deeper than this are rejected: no real file needs them, and a corrupt file could recurse.
    static let maxDepth = 4

    init(file: MappedFile) { self.file = file }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let raw = try file.bytes(at: position, length: MemoryLayout<T>.size, what: what())
        position += MemoryLayout<T>.size
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    /// A u64 count that must fit in the remaining bytes (each item takes at least one byte), so a corrupt count
    /// cannot make us allocate without bound.
    mutating func readCount(_ what: @autoclosure () -> String) throws -> Int {
        let label = what()
        let n = try read(UInt64.self, label)
        guard n <= UInt64(file.count - position) else {
            throw ModelFormatError.truncated(path: file.path, detail: "\(label) is \(n), more than the file can hold")
        }
        return Int(n)
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let label = what()
        let length = try readCount("length of \(label)")
        let raw = try file.bytes(at: position, length: length, what: label)
        position += length
        return String(decoding: raw, as: UTF8.self)
    }

    mutating func readValue(rawType: UInt32, what: String, depth: Int) throws -> GGUFValue {
        switch rawType {
        case 0: return .uint(UInt64(try read(UInt8.self, what)))
        case 1: return .int(Int64(try read(Int8.self, what)))
        case 2: return .uint(UInt64(try read(UInt16.self, what)))
        case 3: return .int(Int64(try read(Int16.self, what)))
        case 4: return .uint(UInt64(try read(UInt32.self, what)))
        case 5: return .int(Int64(try read(Int32.self, what)))
        case 6: return .float(Double(Float(bitPattern: try read(UInt32.self, what))))
        case 7: return .bool(try read(UInt8.self, what) != 0)
        case 8: return .string(try readString(what))
        case 9:
            guard depth < Self.maxDepth else {
                throw ModelFormatError.malformed(path: file.path, detail: "\(what) nests arrays too deeply")
            }
            let itemType = try read(UInt32.self, "item type of \(what)")
            let count = try readCount("length of \(what)")
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readValue(rawType: itemType, what: what, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint(try read(UInt64.self, what))
        case 11: return .int(try read(Int64.self, what))
        case 12: return .float(Double(bitPattern: try read(UInt64.self, what)))
        default:
            throw ModelFormatError.malformed(path: file.path, detail: "\(what) has unknown value type \(rawType)")
        }
    }
}
