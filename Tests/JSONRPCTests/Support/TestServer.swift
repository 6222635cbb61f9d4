import Foundation
import SystemSupport
import XCTest
@testable import JSONRPC

/// The small router the server tests run against.
enum TestRouter {
    struct SleepParams: Codable, Sendable { var milliseconds: Int }
    struct ProgressParams: Codable, Sendable { var steps: Int; var delayMilliseconds: Int? }
    struct FloodParams: Codable, Sendable { var count: Int; var bytes: Int }

    static func make() -> Router {
        let router = Router()
        router.register("echo") { (params: JSONValue, _) in params }
        router.register("sleep") { (params: SleepParams, context) -> String in
            try await Task.sleep(nanoseconds: UInt64(params.milliseconds) * 1_000_000)
            try context.checkCancellation()
            return "slept \(params.milliseconds)"
        }
        router.register("progress") { (params: ProgressParams, context) -> Int in
            for step in 1 ... max(1, params.steps) {
                try context.checkCancellation()
                try context.progress(["step": step], token: context.id)
                if let delay = params.delayMilliseconds { try await Task.sleep(nanoseconds: UInt64(delay) * 1_000_000) }
            }
            return params.steps
        }
        router.register("flood") { (params: FloodParams, context) -> Int in
            let filler = JSONValue.string(String(repeating: "f", count: params.bytes))
            for step in 1 ... max(1, params.count) { try context.progress(JSONValue.object(["step": .int(Int64(step)), "filler": filler]), token: context.id) }
            return params.count
        }
        // Ignores cancellation for `milliseconds`, like work stuck in a call that cannot be interrupted.
        router.register("stubborn") { (params: SleepParams, _) -> String in
            let deadline = Date().addingTimeInterval(Double(params.milliseconds) / 1000)
            while Date() < deadline { try? await Task.sleep(nanoseconds: 5_000_000) }
            return "done"
        }
        router.register("connection") { (_: EmptyParams, context) in context.connection.transport.rawValue }
        return router
    }
}

/// A running server on a TCP port chosen by the kernel and a Unix socket in a fresh directory.
final class TestServer {
    let server: RPCServer
    let tcp: Endpoint
    let unix: Endpoint
    let directory: URL

    init(configuration: ServerConfiguration = ServerConfiguration(finishGracePeriod: 2, cancelGracePeriod: 1),
         router: Router = TestRouter.make()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("torl-rpc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        server = try RPCServer(router: router, configuration: configuration, logger: .silent)
        tcp = try server.listen(on: .tcp(host: "127.0.0.1", port: 0))
        unix = try server.listen(on: .unix(path: directory.appendingPathComponent("s.sock").path))
    }

    func stop() async {
        server.stop()
        await server.stopped()
        try? FileManager.default.removeItem(at: directory)
    }

    func client(_ endpoint: Endpoint? = nil, initialize: Bool = true) async throws -> RPCClient {
        let client = try await RPCClient.connect(to: .socket(endpoint ?? tcp))
        if initialize { try await client.initialize() }
        return client
    }
}

/// A blocking POSIX socket speaking raw bytes, for sending what a real client never would.
final class RawSocket {
    private let fd: Int32
    private var decoder = FrameDecoder(limits: FramingLimits(maxHeaderBytes: 1024, maxBodyBytes: 64 << 20))

    init(_ endpoint: Endpoint) throws {
        switch endpoint {
        case .tcp(_, let port):
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let status = withUnsafePointer(to: &address) {
                connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size))
            }
            guard status == 0 else { throw UVError(-errno, "connect") }
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let status = withUnsafePointer(to: &address) {
                connect(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_un>.size))
            }
            guard status == 0 else { throw UVError(-errno, "connect") }
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    private var isOpen = true

    func close() {
        if isOpen { Glibc.close(fd) }
        isOpen = false
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ message: RPCMessage) throws { send(Array(try FrameEncoder.frame(message))) }

    func sendRequest(_ id: Int64, _ method: String, _ params: JSONValue? = nil) throws {
        try send(.request(RPCRequest(id: .int(id), method: method, params: params)))
    }

    /// The next message, nil when the peer closed the connection.
    func receive() throws -> RPCMessage? {
        while true {
            if case .body(let body)? = try decoder.next() { return try RPCMessage(parsing: body) }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return nil }
            if count < 0 { throw UVError(-errno, "recv (timed out?)") }
            decoder.append(chunk[..<count])
        }
    }

    func receiveResponse(file: StaticString = #filePath, line: UInt = #line) throws -> RPCResponse {
        guard case .response(let response)? = try receive() else {
            XCTFail("expected a response", file: file, line: line)
            throw RPCClientError.connectionClosed("no response")
        }
        return response
    }

    func initialize(token: String? = nil) throws {
        try sendRequest(0, "initialize", token.map { ["token": .string($0)] })
        XCTAssertNil(try receiveResponse().error)
    }
}
