import Foundation

/// A read-only memory mapping of a whole file. Weights stay on disk pages until touched, so opening a
/// multi-gigabyte checkpoint costs nothing until its tensors are read.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    public let base: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ModelFormatError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ModelFormatError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ModelFormatError.cannotOpen(path: path, reason: "not a regular file")
        }
        count = Int(info.st_size)
        guard count > 0 else { throw ModelFormatError.truncated(path: path, detail: "the file is empty") }
        guard let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw ModelFormatError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }

    /// The bytes [offset, offset + length), or a `truncated` error naming what was being read.
    public func bytes(at offset: Int, length: Int, what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw ModelFormatError.truncated(
                path: path, detail: "\(what()) needs bytes \(offset)..<\(offset &+ length) but the file has \(count)")
        }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}

/// The number of elements of a tensor shape, or nil when it overflows or exceeds 2^48 (no file holds that many),
/// so a corrupt shape is an error rather than an arithmetic trap.
func checkedElementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
        guard dimension >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
        guard !overflow, product <= 1 << 48 else { return nil }
        count = product
    }
    return count
}

/// Errors of the checkpoint readers (GGUF, safetensors, config files). Each names the file and the problem.
public enum ModelFormatError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case truncated(path: String, detail: String)
    case badMagic(path: String, found: String)
    case unsupportedVersion(path: String, version: UInt32)
    case malformed(path: String, detail: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case missingMetadata(path: String, key: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path): \(reason)"
        case let .truncated(path, detail): return "\(path) is truncated: \(detail)"
        case let .badMagic(path, found): return "\(path) is not a GGUF file (magic \(found))"
        case let .unsupportedVersion(path, version): return "\(path): GGUF version \(version) is not supported (2 and 3 are)"
        case let .malformed(path, detail): return "\(path) is malformed: \(detail)"
        case let .unsupportedDType(path, tensor, dtype): return "\(path): tensor \(tensor) has unsupported dtype \(dtype)"
        case let .missingMetadata(path, key): return "\(path): required metadata \(key) is missing"
        }
    }
}
