import Foundation
import Tensors

/// One tensor of a safetensors file. `shape` is in PyTorch order ([out, in] for a linear weight).
public struct SafetensorsTensorInfo: Sendable {
    public enum DType: String, Sendable { case f32 = "F32", f16 = "F16", bf16 = "BF16" }
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Absolute offset of the first byte in the file.
    public let fileOffset: Int
    public let byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file over an mmap: u64 little-endian header length, a JSON header naming each tensor's dtype,
/// shape and [begin, end) data offsets, then the data. Every offset is checked against the file size.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: SafetensorsTensorInfo]
    public let file: MappedFile

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        let headerLength = try file.bytes(at: 0, length: 8, what: "header length").loadUnaligned(as: UInt64.self)
        guard headerLength <= UInt64(file.count - 8) else {
            throw ModelFormatError.truncated(path: path, detail: "header of \(headerLength) bytes, file has \(file.count)")
        }
        let header = try file.bytes(at: 8, length: Int(headerLength), what: "JSON header")
        let dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
            throw ModelFormatError.malformed(path: path, detail: "the header is not a JSON object")
        }
        var tensors: [String: SafetensorsTensorInfo] = [:]
        for (name, value) in json where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw ModelFormatError.malformed(path: path, detail: "tensor \(name) lacks dtype, shape or data_offsets")
            }
            guard let dtype = SafetensorsTensorInfo.DType(rawValue: dtypeName) else {
                throw ModelFormatError.unsupportedDType(path: path, tensor: name, dtype: dtypeName)
            }
            guard let elements = checkedElementCount(shape) else {
                throw ModelFormatError.malformed(path: path, detail: "tensor \(name) has an impossible shape \(shape)")
            }
            let elementSize = dtype == .f32 ? 4 : 2
            let expectedBytes = elements * elementSize
            guard offsets[0] >= 0, offsets[1] - offsets[0] == expectedBytes else {
                throw ModelFormatError.malformed(
                    path: path, detail: "tensor \(name): data_offsets \(offsets) hold \(offsets[1] - offsets[0]) bytes, shape \(shape) of \(dtypeName) needs \(expectedBytes)")
            }
            _ = try file.bytes(at: dataStart + offsets[0], length: expectedBytes, what: "data of tensor \(name)")
            tensors[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape,
                                                  fileOffset: dataStart + offsets[0], byteCount: expectedBytes)
        }
        self.tensors = tensors
    }

    /// The tensor's values as f32 (exact for all three dtypes).
    public func float32(of tensor: SafetensorsTensorInfo) -> [Float] {
        let raw = UnsafeRawBufferPointer(start: file.base + tensor.fileOffset, count: tensor.byteCount)
        let n = tensor.elementCount
        switch tensor.dtype {
        case .f32:
            return (0..<n).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
        case .f16:
            return (0..<n).map { Half.float(fromBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .bf16:
            return (0..<n).map { BFloat16.float(fromBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        }
    }
}

/// A Hugging Face checkpoint's weights: `model.safetensors`, or the shards listed by
/// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}).
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let directory: String
    public let shards: [SafetensorsFile]
    /// Which shard holds each tensor.
    public let locations: [String: (shard: SafetensorsFile, info: SafetensorsTensorInfo)]

    public init(directory: String) throws {
        self.directory = directory
        let single = (directory as NSString).appendingPathComponent("model.safetensors")
        let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        var shards: [SafetensorsFile] = []
        var locations: [String: (SafetensorsFile, SafetensorsTensorInfo)] = [:]
        if FileManager.default.fileExists(atPath: index) {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: index)) } catch {
                throw ModelFormatError.cannotOpen(path: index, reason: error.localizedDescription)
            }
            guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let weightMap = json["weight_map"] as? [String: String] else {
                throw ModelFormatError.malformed(path: index, detail: "no \"weight_map\" object of tensor name to shard file")
            }
            var opened: [String: SafetensorsFile] = [:]
            for shardName in Set(weightMap.values).sorted() {
                guard !shardName.contains("/") else {
                    throw ModelFormatError.malformed(path: index, detail: "shard \(shardName) is not a file name in the folder")
                }
                let shard = try SafetensorsFile(path: (directory as NSString).appendingPathComponent(shardName))
                opened[shardName] = shard
                shards.append(shard)
            }
            for (name, shardName) in weightMap {
                let shard = opened[shardName]!
                guard let info = shard.tensors[name] else {
                    throw ModelFormatError.malformed(path: shard.path, detail: "the index places tensor \(name) here but the file does not hold it")
                }
                locations[name] = (shard, info)
            }
            for shard in shards {
                for name in shard.tensors.keys where weightMap[name] == nil {
                    throw ModelFormatError.malformed(path: index, detail: "tensor \(name) of \(shard.path) is not in the weight_map")
                }
            }
        } else if FileManager.default.fileExists(atPath: single) {
            let file = try SafetensorsFile(path: single)
            shards = [file]
            for (name, info) in file.tensors { locations[name] = (file, info) }
        } else {
            throw ModelFormatError.cannotOpen(path: single, reason: "neither model.safetensors nor model.safetensors.index.json exists in \(directory)")
        }
        self.shards = shards
        self.locations = locations
    }
}
