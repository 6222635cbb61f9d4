import Foundation

/// Frames between the pool and a fork-server: a 4-byte big-endian length, then that many bytes of JSON.
enum WireFrame {
    static let headerSize = 4
    /// Replies are small JSON objects; anything larger means the stream is corrupt.
    static let maxReplyBytes = 1 << 20

    static func encode(_ body: Data) -> Data {
        var frame = Data(capacity: headerSize + body.count)
        let length = UInt32(body.count)
        frame.append(contentsOf: [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                                  UInt8(length & 0xFF)])
        frame.append(body)
        return frame
    }
}

enum WireError: Error, Equatable {
    case frameTooLarge(Int)
}

/// Reassembles frames from arbitrarily split reads.
struct FrameDecoder {
    private var buffer = [UInt8]()
    private var start = 0

    /// Appends bytes and returns every frame body now complete, in order.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws -> [Data] {
        buffer.append(contentsOf: bytes)
        var frames = [Data]()
        while buffer.count - start >= WireFrame.headerSize {
            let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8
                | Int(buffer[start + 3])
            if length > WireFrame.maxReplyBytes { throw WireError.frameTooLarge(length) }
            let end = start + WireFrame.headerSize + length
            guard buffer.count >= end else { break }
            frames.append(Data(buffer[(start + WireFrame.headerSize)..<end]))
            start = end
        }
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 16 {
            buffer.removeFirst(start)
            start = 0
        }
        return frames
    }
}

/// One run as the fork-server receives it.
struct RunRequest: Encodable {
    struct Limits: Encodable {
        var cpuSeconds: Double
        var memoryBytes: Int
        var maxFileBytes: Int
        var maxProcesses: Int

        enum CodingKeys: String, CodingKey {
            case cpuSeconds = "cpu_seconds"
            case memoryBytes = "memory_bytes"
            case maxFileBytes = "max_file_bytes"
            case maxProcesses = "max_processes"
        }
    }

    var id: Int
    var code: String
    var limits: Limits
    var environment: [String: String]
}

/// Replies of the fork-server: "ready" once, then "started" and "done" for each run.
struct ControlMessage: Decodable {
    var type: String
    var id: Int?
    var pid: Int32?
    var exitCode: Int?
    var signal: Int?
    var cpuMs: Double?
    var error: String?
    var python: String?
    var isolation: IsolationReport?

    enum CodingKeys: String, CodingKey {
        case type, id, pid, signal, error, python, isolation
        case exitCode = "exit_code"
        case cpuMs = "cpu_ms"
    }
}

/// Start-up settings of one fork-server, passed as its argv[1].
struct ServerSettings: Encodable {
    var isolate: Bool
    var runUID: UInt32?
    var tmpfsBytes: Int

    enum CodingKeys: String, CodingKey {
        case isolate
        case runUID = "run_uid"
        case tmpfsBytes = "tmpfs_bytes"
    }
}
