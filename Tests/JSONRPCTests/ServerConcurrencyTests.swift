import Foundation
import SystemSupport
import XCTest
@testable import JSONRPC

/// Several clients, cancellation, vanishing peers and the stop sequence, over real sockets on a real loop.
final class ServerConcurrencyTests: XCTestCase {
    func testCancelRequestAnswersRequestCancelled() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        let started = Date()
        try socket.sendRequest(21, "sleep", ["milliseconds": 10_000])
        try socket.send(.notification(RPCNotification(method: "$/cancelRequest", params: ["id": 21])))
        let answer = try socket.receiveResponse()
        XCTAssertEqual(answer.id, .int(21))
        XCTAssertEqual(answer.error?.code, -32800)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "the sleep was interrupted, not waited out")
        await fixture.stop()
    }

    func testCancellingTheCallingTaskCancelsTheServerRequest() async throws {
        let fixture = try TestServer()
        let client = try await fixture.client()
        let call = Task { try await client.request("sleep", params: ["milliseconds": 10_000]) }
        try await Task.sleep(nanoseconds: 100_000_000)
        call.cancel()
        do {
            _ = try await call.value
            XCTFail("a cancelled sleep returned")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, -32800)
        }
        let after = try await client.request("echo", params: ["next"])
        XCTAssertEqual(after, ["next"])
        await client.close()
        await fixture.stop()
    }

    func testVanishingClientDoesNotDisturbAnotherClientsWork() async throws {
        let fixture = try TestServer()
        let steady = try await fixture.client()
        let pending = Task { try await steady.request("sleep", params: ["milliseconds": 300]) }
        for _ in 0 ..< 5 {
            let doomed = try RawSocket(fixture.tcp)
            try doomed.initialize()
            try doomed.sendRequest(1, "sleep", ["milliseconds": 5000])
            try doomed.sendRequest(2, "progress", ["steps": 1000, "delayMilliseconds": 1])
            doomed.send("Content-Length: 100\r\n\r\n{\"jsonrpc\"")
            doomed.close()
        }
        let result = try await pending.value
        XCTAssertEqual(result, "slept 300")
        try await waitUntil { fixture.server.connectionCount == 1 }
        await steady.close()
        await fixture.stop()
    }

    func testManyClientsOverTCPAndUnixAtOnce() async throws {
        let fixture = try TestServer()
        let endpoints = (0 ..< 8).map { $0 % 2 == 0 ? fixture.tcp : fixture.unix }
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, endpoint) in endpoints.enumerated() {
                group.addTask {
                    let client = try await fixture.client(endpoint)
                    let transport = try await client.request("connection")
                    XCTAssertEqual(transport.stringValue, endpoint.description.hasPrefix("tcp") ? "tcp" : "unix")
                    let results = try await withThrowingTaskGroup(of: Bool.self) { requests in
                        for number in 0 ..< 25 {
                            requests.addTask {
                                let payload: JSONValue = ["client": .int(Int64(index)), "n": .int(Int64(number))]
                                return try await client.request("echo", params: payload) == payload
                            }
                        }
                        return try await requests.reduce(0) { $0 + ($1 ? 1 : 0) }
                    }
                    try await client.shutdownAndExit()
                    return results
                }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(answered, 200)
        await fixture.stop()
    }

    func testTokenIsRequiredOnTCPWhenConfigured() async throws {
        let token = "s3cret-token-0123456789"
        let fixture = try TestServer(configuration: ServerConfiguration(token: token))
        let stranger = try RawSocket(fixture.tcp)
        try stranger.sendRequest(1, "initialize", ["token": "guess-guess-guess-1"])
        XCTAssertEqual(try stranger.receiveResponse().error?.code, RPCError.unauthorizedCode)
        XCTAssertNil(try stranger.receive(), "a wrong token closes the connection")
        let silent = try RawSocket(fixture.tcp)
        try silent.sendRequest(1, "echo", [1])
        XCTAssertEqual(try silent.receiveResponse().error?.code, -32002, "no work before an authenticated initialize")
        let friend = try await fixture.client(initialize: false)
        try await friend.initialize(token: token)
        let echoed = try await friend.request("echo", params: ["in"])
        XCTAssertEqual(echoed, ["in"])
        let local = try await fixture.client(fixture.unix)
        let overUnix = try await local.request("echo", params: ["unix needs no token"])
        XCTAssertEqual(overUnix, ["unix needs no token"])
        await friend.close()
        await local.close()
        await fixture.stop()
    }

    func testNonLoopbackTCPWithoutTokenIsRefused() throws {
        let server = try RPCServer(router: Router(), logger: .silent)
        XCTAssertThrowsError(try server.listen(on: .tcp(host: "0.0.0.0", port: 0))) { error in
            XCTAssertTrue(String(describing: error).contains("requires --token"), "\(error)")
        }
        server.stop()
        server.waitUntilStopped()
    }

    func testUnixSocketIsOwnerOnlyAndStaleFilesAreHandled() async throws {
        let fixture = try TestServer()
        guard case .unix(let path) = fixture.unix else { return XCTFail() }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let rival = try RPCServer(router: Router(), logger: .silent)
        XCTAssertThrowsError(try rival.listen(on: fixture.unix)) { error in
            XCTAssertTrue(String(describing: error).contains("already serving"), "\(error)")
        }
        rival.stop()
        rival.waitUntilStopped()
        await fixture.stop()

        // A socket file whose server died: bind a socket by hand and close it without unlinking.
        let stalePath = FileManager.default.temporaryDirectory.appendingPathComponent("torl-stale-\(getpid()).sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(stalePath.utf8)) }
        unlink(stalePath)
        let bound = withUnsafePointer(to: &address) {
            bind(fd, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_un>.size))
        }
        XCTAssertEqual(bound, 0)
        close(fd)
        let revived = try RPCServer(router: TestRouter.make(), logger: .silent)
        try revived.listen(on: .unix(path: stalePath))
        let client = try await RPCClient.connect(to: .socket(.unix(path: stalePath)))
        try await client.initialize()
        await client.close()
        revived.stop()
        await revived.stopped()
        XCTAssertFalse(FileManager.default.fileExists(atPath: stalePath), "stop removes the socket file")

        let regularFile = FileManager.default.temporaryDirectory.appendingPathComponent("torl-not-a-socket-\(getpid())").path
        XCTAssertTrue(FileManager.default.createFile(atPath: regularFile, contents: Data("keep me".utf8)))
        let careful = try RPCServer(router: Router(), logger: .silent)
        XCTAssertThrowsError(try careful.listen(on: .unix(path: regularFile)))
        XCTAssertEqual(FileManager.default.contents(atPath: regularFile), Data("keep me".utf8))
        try? FileManager.default.removeItem(atPath: regularFile)
        careful.stop()
        careful.waitUntilStopped()
    }

    func testTooManyRequestsOnOneConnectionIsBusy() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(maxInFlightPerConnection: 2))
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        for id in 1 ... 3 { try socket.sendRequest(Int64(id), "sleep", ["milliseconds": 200]) }
        let busy = try socket.receiveResponse()
        XCTAssertEqual(busy.id, .int(3))
        XCTAssertEqual(busy.error?.code, RPCError.serverBusyCode)
        let finished = try [socket.receiveResponse(), socket.receiveResponse()].compactMap(\.id)
        XCTAssertEqual(Set(finished), [.int(1), .int(2)])
        await fixture.stop()
    }

    /// Random bytes, random frames and truncated frames, fed one byte at a time from several sockets at once:
    /// the server answers or closes each of them and keeps serving a well-behaved client throughout.
    func testFuzzedConnectionsNeverTakeTheServerDown() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(
            framing: FramingLimits(maxHeaderBytes: 512, maxBodyBytes: 2048)))
        let steady = try await fixture.client()
        var random = SeededGenerator(seed: 0xF022)
        let pieces: [String] = [
            "Content-Length: ", "Content-Type: application/json\r\n", "\r\n", "\r\n\r\n", "{", "}", "\"jsonrpc\":\"2.0\"",
            ",\"id\":1", ",\"method\":\"echo\"", ",\"method\":\"sleep\",\"params\":{\"milliseconds\":1}", "[", "]", "null",
            "17", "99999999", ":", "\u{00}", "é", "\u{FFFD}",
        ]
        for round in 0 ..< 40 {
            let socket = try RawSocket(round % 2 == 0 ? fixture.tcp : fixture.unix)
            var bytes: [UInt8] = []
            if round % 3 == 0 {
                let body = #"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#
                bytes += Array("Content-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
            }
            for _ in 0 ..< Int.random(in: 1 ... 30, using: &random) {
                if Bool.random(using: &random) {
                    bytes += Array(pieces.randomElement(using: &random)!.utf8)
                } else {
                    let body = Array(pieces.shuffled(using: &random).prefix(4).joined().utf8)
                    let declared = body.count + Int.random(in: -3 ... 3, using: &random)
                    bytes += Array("Content-Length: \(max(0, declared))\r\n\r\n".utf8) + body
                }
            }
            if round % 4 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0 ... bytes.count, using: &random))) }
            for byte in bytes { socket.send([byte]) }
            socket.close()
            let alive = try await steady.request("echo", params: [.int(Int64(round))])
            XCTAssertEqual(alive, [.int(Int64(round))], "round \(round)")
        }
        await steady.close()
        await fixture.stop()
    }

    func testGracefulStopFinishesRunningWorkAndRefusesNewWork() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(finishGracePeriod: 5, cancelGracePeriod: 1))
        let client = try await fixture.client()
        let running = Task { try await client.request("sleep", params: ["milliseconds": 300]) }
        try await Task.sleep(nanoseconds: 50_000_000)
        fixture.server.stop()
        try await Task.sleep(nanoseconds: 50_000_000)
        do {
            _ = try await client.request("echo", params: [1])
            XCTFail("new work accepted while stopping")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, RPCError.shuttingDownCode)
        }
        let finished = try await running.value
        XCTAssertEqual(finished, "slept 300")
        let status = await fixture.server.stopped()
        XCTAssertEqual(status, 0)
        do {
            _ = try await client.request("echo", params: [1])
            XCTFail("connection survived the stop")
        } catch let error as RPCClientError {
            guard case .connectionClosed = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try RawSocket(fixture.tcp), "the listener is closed")
    }

    func testGracefulStopCancelsWorkThatOutlivesTheGracePeriod() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(finishGracePeriod: 0.2, cancelGracePeriod: 1))
        let client = try await fixture.client()
        let running = Task { try await client.request("sleep", params: ["milliseconds": 30_000]) }
        try await Task.sleep(nanoseconds: 50_000_000)
        let started = Date()
        fixture.server.stop()
        do {
            _ = try await running.value
            XCTFail("a 30 s sleep finished")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, -32800)
        }
        await fixture.server.stopped()
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testStopClosesConnectionsWhoseWorkIgnoresCancellation() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(finishGracePeriod: 0.1, cancelGracePeriod: 0.1))
        let client = try await fixture.client()
        let stuck = Task { try await client.request("stubborn", params: ["milliseconds": 2000]) }
        try await Task.sleep(nanoseconds: 50_000_000)
        let started = Date()
        fixture.server.stop()
        do {
            _ = try await stuck.value
            XCTFail("the stuck request was answered")
        } catch let error as RPCClientError {
            guard case .connectionClosed = error else { return XCTFail("\(error)") }
        }
        await fixture.server.stopped()
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "the stop did not wait for the stuck handler")
        try? FileManager.default.removeItem(at: fixture.directory)
    }

    func testConnectingToNothingFailsClearly() async throws {
        do {
            _ = try await RPCClient.connect(to: .socket(.unix(path: "/tmp/torl-no-such-socket-\(getpid())")))
            XCTFail("connected to a missing socket")
        } catch let error as RPCClientError {
            XCTAssertTrue(String(describing: error).contains("ENOENT"), "\(error)")
        }
        let server = try RPCServer(router: Router(), logger: .silent)
        let port = try server.listen(on: .tcp(host: "127.0.0.1", port: 0))
        server.stop()
        await server.stopped()
        do {
            _ = try await RPCClient.connect(to: .socket(port))
            XCTFail("connected to a closed port")
        } catch let error as RPCClientError {
            XCTAssertTrue(String(describing: error).contains("ECONNREFUSED"), "\(error)")
        }
    }

    func testSignalStartsTheGracefulStop() async throws {
        let fixture = try TestServer()
        try fixture.server.stopOnSignals([SIGUSR2])
        let client = try await fixture.client()
        let running = Task { try await client.request("sleep", params: ["milliseconds": 200]) }
        try await Task.sleep(nanoseconds: 50_000_000)
        kill(getpid(), SIGUSR2)
        let finished = try await running.value
        XCTAssertEqual(finished, "slept 200", "work in flight when the signal came still gets its answer")
        let status = await fixture.server.stopped()
        XCTAssertEqual(status, 0)
        try? FileManager.default.removeItem(at: fixture.directory)
    }

    func testStdioModeOverPipes() async throws {
        var toServer: [Int32] = [0, 0]
        var fromServer: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&toServer), 0)
        XCTAssertEqual(pipe(&fromServer), 0)
        let server = try RPCServer(router: TestRouter.make(), logger: .silent)
        try server.serveStdio(input: toServer[0], output: fromServer[1])
        let client = try await RPCClient.connect(to: .fileDescriptors(input: fromServer[0], output: toServer[1]))
        try await client.initialize()
        let echoed = try await client.request("echo", params: ["over": "pipes"])
        XCTAssertEqual(echoed, ["over": "pipes"])
        let transport = try await client.request("connection")
        XCTAssertEqual(transport, "stdio")
        try await client.shutdownAndExit()
        let status = await server.stopped()
        XCTAssertEqual(status, 0, "exit after shutdown stops a stdio server with status 0")
    }

    func testStdioServerStopsWhenItsClientVanishes() async throws {
        var toServer: [Int32] = [0, 0]
        var fromServer: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&toServer), 0)
        XCTAssertEqual(pipe(&fromServer), 0)
        let server = try RPCServer(router: TestRouter.make(), logger: .silent)
        try server.serveStdio(input: toServer[0], output: fromServer[1])
        close(toServer[1])
        close(fromServer[0])
        let status = await server.stopped()
        XCTAssertEqual(status, 0)
    }

    func testStdioAnswersEverythingSentBeforeEndOfInput() async throws {
        var toServer: [Int32] = [0, 0]
        var fromServer: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&toServer), 0)
        XCTAssertEqual(pipe(&fromServer), 0)
        let server = try RPCServer(router: TestRouter.make(), logger: .silent)
        try server.serveStdio(input: toServer[0], output: fromServer[1])
        var script: [UInt8] = []
        for message in [RPCMessage.request(RPCRequest(id: .int(1), method: "initialize")),
                        .request(RPCRequest(id: .int(2), method: "sleep", params: ["milliseconds": 100])),
                        .request(RPCRequest(id: .int(3), method: "echo", params: ["last"]))] {
            script += Array(try FrameEncoder.frame(message))
        }
        XCTAssertEqual(script.withUnsafeBytes { write(toServer[1], $0.baseAddress, $0.count) }, script.count)
        close(toServer[1])
        var decoder = FrameDecoder()
        var answered: [RequestID] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fromServer[0], &buffer, buffer.count)
            if count <= 0 { break }
            decoder.append(buffer[..<count])
            while case .body(let body)? = try decoder.next() {
                guard case .response(let response) = try RPCMessage(parsing: body) else { continue }
                XCTAssertNil(response.error)
                if let id = response.id { answered.append(id) }
            }
        }
        close(fromServer[0])
        XCTAssertEqual(Set(answered), [.int(1), .int(2), .int(3)])
        await server.stopped()
    }

    /// A client that sends faster than it reads is paused, not dropped: once it reads, every request is answered
    /// (with its echo, or busy where it exceeded the in-flight limit).
    func testSlowReaderIsPausedThenServedCompletely() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(
            backpressure: BackpressureLimits(pauseReadingAbove: 64 << 10, resumeReadingBelow: 16 << 10, closeAbove: 256 << 20)))
        let slow = try RawSocket(fixture.tcp)
        try slow.initialize()
        let chunk = String(repeating: "z", count: 60_000)
        let count = 150
        let sender = Thread {
            for id in 1 ... count { try? slow.sendRequest(Int64(id), "echo", [.string(chunk)]) }
        }
        sender.start()
        try await Task.sleep(nanoseconds: 300_000_000)
        let steady = try await fixture.client()
        let answer = try await steady.request("echo", params: ["fine"])
        XCTAssertEqual(answer, ["fine"], "a paused connection does not stall the loop")
        var answered = Set<RequestID>()
        while answered.count < count, let message = try slow.receive() {
            guard case .response(let response) = message, let id = response.id else { continue }
            let echoed = response.outcome == .success([.string(chunk)])
            let busy = response.error?.code == RPCError.serverBusyCode
            XCTAssertTrue(echoed || busy, "request \(id): neither its echo nor busy: \(String(describing: response.error))")
            answered.insert(id)
        }
        XCTAssertEqual(answered.count, count)
        await steady.close()
        await fixture.stop()
    }

    /// Output a peer never reads beyond the hard cap closes that peer; the daemon's memory stays bounded.
    func testPeerThatNeverReadsIsClosedAtTheHardCap() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(
            backpressure: BackpressureLimits(pauseReadingAbove: 64 << 10, resumeReadingBelow: 16 << 10, closeAbove: 1 << 20)))
        let hog = try RawSocket(fixture.tcp)
        try hog.initialize()
        try hog.sendRequest(1, "flood", ["count": 400, "bytes": 65_536])
        try await waitUntil { fixture.server.connectionCount == 0 }
        var received = 0
        do {
            while try hog.receive() != nil { received += 1 }
        } catch let error as UVError {
            XCTAssertEqual(error.code, -ECONNRESET, "closed, not left waiting: \(error)")
        }
        XCTAssertLessThan(received, 400)
        let steady = try await fixture.client()
        let answer = try await steady.request("echo", params: ["fine"])
        XCTAssertEqual(answer, ["fine"])
        await steady.close()
        await fixture.stop()
    }
}

func waitUntil(timeout: TimeInterval = 5, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline { throw RPCClientError.connectionClosed("condition not met within \(timeout) s") }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
}
