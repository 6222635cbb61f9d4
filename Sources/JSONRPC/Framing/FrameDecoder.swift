import Foundation

public struct FramingLimits: Sendable, Equatable {
    /// Bytes allowed in one header section, its terminating blank line included.
    public var maxHeaderBytes: Int
    /// Largest `Content-Length` accepted; larger bodies are skipped and answered with -32005.
    public var maxBodyBytes: Int

    public init(maxHeaderBytes: Int = 8 * 1024, maxBodyBytes: Int = 16 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// A header section the decoder cannot make sense of. After one of these the byte stream has no trustworthy
/// frame boundary left, so the connection is answered once and closed (docs/PROTOCOL.md, "Error recovery").
public struct FramingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { "malformed frame: \(reason)" }
}

public enum FrameEvent: Sendable, Equatable {
    /// A complete body, not yet parsed as JSON.
    case body(Data)
    /// A well-formed header announced a body larger than the limit. The decoder skips those bytes by itself and
    /// the stream stays usable.
    case oversizedBody(length: Int, limit: Int)
}

/// Incremental LSP frame decoder: `Content-Length: N\r\n[Content-Type: ...\r\n]\r\n` then N bytes of UTF-8 JSON.
/// Fed arbitrary chunks (down to one byte); memory stays bounded by the header and body limits.
public struct FrameDecoder: Sendable {
    public let limits: FramingLimits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the blank line resumes, so a header fed byte by byte is scanned once, not N² times.
    private var headerScanIndex = 0
    private var pendingBodyLength: Int?
    private var bytesLeftToSkip = 0
    private var failure: FramingError?

    public init(limits: FramingLimits = FramingLimits()) {
        self.limits = limits
    }

    /// True between frames: no partial header or body is buffered. A stream that ends here ended cleanly.
    public var isAtFrameBoundary: Bool {
        buffer.count == readIndex && pendingBodyLength == nil && bytesLeftToSkip == 0 && failure == nil
    }

    public mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard failure == nil else { return }
        var remaining = bytes[...]
        if bytesLeftToSkip > 0 {
            let skipped = min(bytesLeftToSkip, remaining.count)
            bytesLeftToSkip -= skipped
            remaining = remaining.dropFirst(skipped)
        }
        buffer.append(contentsOf: remaining)
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        append(UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    /// The next complete event, nil when more bytes are needed. Throws `FramingError` for a malformed header;
    /// every later call throws the same error.
    public mutating func next() throws -> FrameEvent? {
        if let failure { throw failure }
        do {
            return try decodeNext()
        } catch let error as FramingError {
            failure = error
            buffer = []
            readIndex = 0
            throw error
        }
    }

    private mutating func decodeNext() throws -> FrameEvent? {
        if bytesLeftToSkip > 0 { return nil }
        if pendingBodyLength == nil {
            guard let length = try parseHeader() else { return nil }
            if length > limits.maxBodyBytes {
                let available = buffer.count - readIndex
                let skippedNow = min(available, length)
                readIndex += skippedNow
                bytesLeftToSkip = length - skippedNow
                compact()
                return .oversizedBody(length: length, limit: limits.maxBodyBytes)
            }
            pendingBodyLength = length
        }
        guard let length = pendingBodyLength, buffer.count - readIndex >= length else { return nil }
        let body = Data(buffer[readIndex ..< readIndex + length])
        readIndex += length
        pendingBodyLength = nil
        compact()
        return .body(body)
    }

    /// Returns the Content-Length once a full header section is buffered, consuming it.
    private mutating func parseHeader() throws -> Int? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var index = max(headerScanIndex, readIndex)
        var headerEnd: Int?
        while index + 4 <= buffer.count {
            if buffer[index] == 13, buffer[index + 1] == 10, buffer[index + 2] == 13, buffer[index + 3] == 10 {
                headerEnd = index
                break
            }
            index += 1
        }
        guard let headerEnd else {
            headerScanIndex = max(readIndex, buffer.count - (terminator.count - 1))
            if buffer.count - readIndex > limits.maxHeaderBytes {
                throw FramingError(reason: "header section exceeds \(limits.maxHeaderBytes) bytes without a blank line")
            }
            return nil
        }
        if headerEnd + 4 - readIndex > limits.maxHeaderBytes {
            throw FramingError(reason: "header section exceeds \(limits.maxHeaderBytes) bytes")
        }
        let headerBytes = buffer[readIndex ..< headerEnd]
        readIndex = headerEnd + 4
        headerScanIndex = readIndex
        return try Self.contentLength(of: headerBytes)
    }

    static func contentLength(of headerBytes: ArraySlice<UInt8>) throws -> Int {
        guard headerBytes.allSatisfy({ $0 < 0x80 }), let text = String(bytes: headerBytes, encoding: .ascii) else {
            throw FramingError(reason: "header contains non-ASCII bytes")
        }
        var contentLength: Int?
        for line in text.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else {
                throw FramingError(reason: "header line without ':' (\(Self.quoted(line)))")
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "content-length":
                guard contentLength == nil else { throw FramingError(reason: "Content-Length given twice") }
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0.isASCII && $0.isNumber }),
                      let length = Int(value)
                else { throw FramingError(reason: "Content-Length is not a decimal byte count (\(Self.quoted(value)))") }
                contentLength = length
            case "content-type":
                try checkContentType(value)
            default:
                guard !name.isEmpty, !name.contains(" ") else {
                    throw FramingError(reason: "malformed header name (\(Self.quoted(String(line[..<colon]))))")
                }
            }
        }
        guard let contentLength else { throw FramingError(reason: "missing Content-Length header") }
        return contentLength
    }

    private static func checkContentType(_ value: String) throws {
        let parameters = value.lowercased().split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        for parameter in parameters.dropFirst() where parameter.hasPrefix("charset=") {
            let charset = parameter.dropFirst("charset=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard charset == "utf-8" || charset == "utf8" else {
                throw FramingError(reason: "unsupported charset '\(charset)' (only utf-8)")
            }
        }
    }

    private static func quoted(_ text: String) -> String {
        let shown = text.count > 40 ? String(text.prefix(40)) + "..." : text
        return "\"\(shown)\""
    }

    /// Drops consumed bytes once they dominate the buffer, keeping appends amortised O(1).
    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            readIndex = 0
            headerScanIndex = 0
        } else if readIndex > 64 * 1024, readIndex > buffer.count / 2 {
            buffer.removeFirst(readIndex)
            headerScanIndex -= readIndex
            readIndex = 0
        }
    }
}

public enum FrameEncoder {
    public static func frame(body: Data) -> Data {
        var frame = Data("Content-Length: \(body.count)\r\n\r\n".utf8)
        frame.append(body)
        return frame
    }

    public static func frame(_ message: RPCMessage) throws -> Data {
        frame(body: try message.encoded())
    }
}
