import Foundation
import SystemSupport
import XCTest
@testable import JSONRPC

/// Bad input over real sockets: each gets its answer, the connection stays usable where the rules say so.
final class ServerProtocolTests: XCTestCase {
    func testParseErrorThenValidRequestOnTheSameConnection() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        let broken = #"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"#
        socket.send("Content-Length: \(broken.utf8.count)\r\n\r\n\(broken)")
        let parseError = try socket.receiveResponse()
        XCTAssertNil(parseError.id)
        XCTAssertEqual(parseError.error?.code, -32700)
        try socket.sendRequest(2, "echo", ["still": "here"])
        XCTAssertEqual(try socket.receiveResponse(), .success(.int(2), ["still": "here"]))
        await fixture.stop()
    }

    func testInitializeDescribesTheProtocol() async throws {
        let fixture = try TestServer()
        let client = try await fixture.client(initialize: false)
        let info = try await client.initialize()
        XCTAssertEqual(info["server"]?["name"], "torl")
        XCTAssertEqual(info["limits"]?["max_body_bytes"], .int(16 << 20))
        let methods = info["capabilities"]?["methods"]?.arrayValue ?? []
        XCTAssertTrue(methods.contains("echo") && methods.contains("shutdown"), "\(methods)")
        await client.close()
        await fixture.stop()
    }

    func testDaemonInitializeHandlerAddsToTheProtocolInfo() async throws {
        let router = TestRouter.make()
        router.register("initialize") { (_: EmptyParams, _) -> JSONValue in ["model": ["name": "SmolLM2-135M"]] }
        let fixture = try TestServer(router: router)
        let client = try await fixture.client(initialize: false)
        let info = try await client.initialize()
        XCTAssertEqual(info["model"]?["name"], "SmolLM2-135M")
        XCTAssertEqual(info["server"]?["name"], "torl")
        await client.close()
        await fixture.stop()
    }

    func testUnknownMethodAndInvalidParams() async throws {
        let fixture = try TestServer()
        let client = try await fixture.client()
        do {
            _ = try await client.request("no/such")
            XCTFail("unknown method answered")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, -32601)
        }
        do {
            _ = try await client.request("sleep", params: ["milliseconds": "soon"])
            XCTFail("bad params answered")
        } catch let error as RPCError {
            XCTAssertEqual(error.code, -32602)
            XCTAssertEqual(error.message, "invalid params: field 'milliseconds': expected an integer, found string")
        }
        let echoed = try await client.request("echo", params: [1, 2])
        XCTAssertEqual(echoed, [1, 2])
        await client.close()
        await fixture.stop()
    }

    func testLifecycleBeforeInitializeAndAfterShutdown() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.unix)
        try socket.sendRequest(1, "echo", [1])
        XCTAssertEqual(try socket.receiveResponse().error?.code, -32002)
        try socket.send(.notification(RPCNotification(method: "custom")))
        try socket.initialize()
        try socket.sendRequest(2, "initialize")
        XCTAssertEqual(try socket.receiveResponse().error?.code, RPCError.alreadyInitializedCode)
        try socket.sendRequest(3, "shutdown")
        XCTAssertEqual(try socket.receiveResponse(), .success(.int(3), .null))
        try socket.sendRequest(4, "echo", [1])
        let late = try socket.receiveResponse()
        XCTAssertEqual(late.id, .int(4))
        XCTAssertEqual(late.error?.code, RPCError.shuttingDownCode)
        try socket.send(.notification(RPCNotification(method: "exit")))
        XCTAssertNil(try socket.receive(), "exit closes the connection")
        let other = try await fixture.client(fixture.unix)
        let stillServing = try await other.request("echo", params: ["ok": true])
        XCTAssertEqual(stillServing, ["ok": true], "exit on a socket ends that connection, not the daemon")
        await other.close()
        await fixture.stop()
    }

    func testRequestsPipelinedBehindInitializeAreHeldNotRejected() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        var burst: [UInt8] = []
        for message in [RPCMessage.request(RPCRequest(id: .int(1), method: "initialize")),
                        .request(RPCRequest(id: .int(2), method: "echo", params: ["a"])),
                        .request(RPCRequest(id: .int(3), method: "echo", params: ["b"]))] {
            burst += Array(try FrameEncoder.frame(message))
        }
        socket.send(burst)
        XCTAssertNil(try socket.receiveResponse().error)
        let answers = try [socket.receiveResponse(), socket.receiveResponse()]
        XCTAssertEqual(Set(answers.map { "\($0)" }), Set([RPCResponse.success(.int(2), ["a"]), .success(.int(3), ["b"])].map { "\($0)" }))
        await fixture.stop()
    }

    func testShutdownIsAnsweredAfterRunningRequestsFinish() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        try socket.sendRequest(1, "sleep", ["milliseconds": 200])
        try socket.sendRequest(2, "shutdown")
        XCTAssertEqual(try socket.receiveResponse(), .success(.int(1), "slept 200"))
        XCTAssertEqual(try socket.receiveResponse(), .success(.int(2), .null))
        await fixture.stop()
    }

    func testBodyOverTheLimitIsAnsweredAndTheConnectionStaysUsable() async throws {
        let fixture = try TestServer(configuration: ServerConfiguration(
            framing: FramingLimits(maxHeaderBytes: 1024, maxBodyBytes: 4096)))
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        let big = String(repeating: "7", count: 10_000)
        socket.send("Content-Length: \(big.utf8.count + 2)\r\n\r\n[\(big)]")
        let tooLarge = try socket.receiveResponse()
        XCTAssertEqual(tooLarge.error?.code, RPCError.payloadTooLargeCode)
        XCTAssertEqual(tooLarge.error?.data?["limit"], 4096)
        try socket.sendRequest(9, "echo", ["after"])
        XCTAssertEqual(try socket.receiveResponse(), .success(.int(9), ["after"]))
        await fixture.stop()
    }

    func testMalformedHeaderIsAnsweredThenClosed() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        socket.send("Content-Lenght: 12\r\n\r\n{}")
        let answer = try socket.receiveResponse()
        XCTAssertEqual(answer.error?.code, -32700)
        XCTAssertTrue(answer.error?.message.contains("missing Content-Length") ?? false, "\(String(describing: answer.error))")
        XCTAssertNil(try socket.receive())
        await fixture.stop()
    }

    func testInvalidRequestKeepsItsID() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        let body = #"{"jsonrpc":"2.0","id":"q","method":"echo","params":7}"#
        socket.send("Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let answer = try socket.receiveResponse()
        XCTAssertEqual(answer.id, .string("q"))
        XCTAssertEqual(answer.error?.code, -32600)
        await fixture.stop()
    }

    func testDuplicateRunningIDIsRejected() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        try socket.sendRequest(5, "sleep", ["milliseconds": 300])
        try socket.sendRequest(5, "echo", [1])
        let duplicate = try socket.receiveResponse()
        XCTAssertEqual(duplicate.error?.code, -32600)
        XCTAssertEqual(try socket.receiveResponse(), .success(.int(5), "slept 300"))
        await fixture.stop()
    }

    func testProgressArrivesInOrderBeforeTheResult() async throws {
        let fixture = try TestServer()
        let socket = try RawSocket(fixture.tcp)
        try socket.initialize()
        try socket.sendRequest(11, "progress", ["steps": 5])
        var steps: [JSONValue] = []
        while true {
            let message = try socket.receive()
            if case .notification(let notification)? = message, let progress = ProgressNotification(notification) {
                XCTAssertEqual(progress.token, .int(11))
                steps.append(progress.value)
            } else if case .response(let response)? = message {
                XCTAssertEqual(response, .success(.int(11), 5))
                break
            } else {
                return XCTFail("unexpected \(String(describing: message))")
            }
        }
        XCTAssertEqual(steps, (1 ... 5).map { ["step": .int(Int64($0))] })
        await fixture.stop()
    }

    func testClientRoutesProgressToTheRequest() async throws {
        let fixture = try TestServer()
        let client = try await fixture.client()
        let seen = Locked<[Int64]>([])
        let result = try await client.request("progress", params: ["steps": 4]) { value in
            if let step = value["step"]?.intValue { seen.withLock { $0.append(step) } }
        }
        XCTAssertEqual(result, 4)
        XCTAssertEqual(seen.current, [1, 2, 3, 4])
        await client.close()
        await fixture.stop()
    }
}
