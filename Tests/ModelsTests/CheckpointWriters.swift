import Foundation

/// Minimal writers for test checkpoints: GGUF (v2/v3) and safetensors, little-endian.
struct GGUFBuilder {
    enum Value {
        case u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String), u64(UInt64), strings([String])
        case floats([Float]), ints([Int32])
    }
    struct Tensor {
        var name: String
        var ggmlDimensions: [Int]   // innermost first
        var type: UInt32
        var data: [UInt8]
    }

    var version: UInt32 = 3
    var magic: [UInt8] = Array("GGUF".utf8)
    var alignment = 32
    var metadata: [(String, Value)] = []
    var tensors: [Tensor] = []

    func bytes() -> [UInt8] {
        var out = magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        u32(version)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case let .u32(v): u32(4); u32(v)
            case let .i32(v): u32(5); u32(UInt32(bitPattern: v))
            case let .f32(v): u32(6); u32(v.bitPattern)
            case let .bool(v): u32(7); out.append(v ? 1 : 0)
            case let .string(v): u32(8); string(v)
            case let .u64(v): u32(10); u64(v)
            case let .strings(items): u32(9); u32(8); u64(UInt64(items.count)); items.forEach(string)
            case let .floats(items): u32(9); u32(6); u64(UInt64(items.count)); items.forEach { u32($0.bitPattern) }
            case let .ints(items): u32(9); u32(5); u64(UInt64(items.count)); items.forEach { u32(UInt32(bitPattern: $0)) }
            }
        }
        var offset = 0
        var offsets: [Int] = []
        for tensor in tensors {
            offsets.append(offset)
            offset += (tensor.data.count + alignment - 1) / alignment * alignment
        }
        for (tensor, tensorOffset) in zip(tensors, offsets) {
            string(tensor.name)
            u32(UInt32(tensor.ggmlDimensions.count))
            tensor.ggmlDimensions.forEach { u64(UInt64($0)) }
            u32(tensor.type)
            u64(UInt64(tensorOffset))
        }
        out += [UInt8](repeating: 0, count: (alignment - out.count % alignment) % alignment)
        for tensor in tensors {
            out += tensor.data
            out += [UInt8](repeating: 0, count: (alignment - tensor.data.count % alignment) % alignment)
        }
        return out
    }
}

enum SafetensorsWriter {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var data: [UInt8]
    }

    static func f32(_ name: String, shape: [Int], values: [Float]) -> Entry {
        Entry(name: name, dtype: "F32", shape: shape, data: f32Bytes(values))
    }

    static func bytes(_ entries: [Entry]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for entry in entries {
            header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [offset, offset + entry.data.count]]
            offset += entry.data.count
        }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out += $0 }
        return out + json + entries.flatMap(\.data)
    }
}

func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}
