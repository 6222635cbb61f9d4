import Foundation
import Tensors

/// Writes F32 tensors in the safetensors format (the format `SafetensorsFile` reads): u64 little-endian header
/// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}} padded with
/// spaces to 8 bytes, then the data. Written atomically.
public enum SafetensorsWriter {
    public struct Tensor {
        public var name: String
        public var shape: [Int]
        public var values: UnsafeBufferPointer<Float>
        public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    public static func write(_ tensors: [Tensor], metadata: [String: String], to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for tensor in tensors {
            let bytes = tensor.values.count * 4
            header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        let writer = try AtomicFileWriter(destination: path)
        var length = UInt64(json.count).littleEndian
        try withUnsafeBytes(of: &length) { try writer.write($0) }
        try writer.write(json)
        for tensor in tensors { try writer.write(UnsafeRawBufferPointer(tensor.values)) }
        try writer.commit()
    }
}

extension SafetensorsFile {
    /// The header's `__metadata__` string map (empty when absent).
    public func metadata() throws -> [String: String] {
        let length = try file.bytes(at: 0, length: 8, what: "header length").loadUnaligned(as: UInt64.self)
        let header = try file.bytes(at: 8, length: Int(length), what: "JSON header")
        guard let json = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
            throw ModelFormatError.malformed(path: path, detail: "the header is not a JSON object")
        }
        guard let metadata = json["__metadata__"] else { return [:] }
        guard let strings = metadata as? [String: String] else {
            throw ModelFormatError.malformed(path: path, detail: "__metadata__ is not a map of strings")
        }
        return strings
    }
}
