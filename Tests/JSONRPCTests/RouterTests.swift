import Foundation
import SystemSupport
import XCTest
@testable import JSONRPC

final class RouterTests: XCTestCase {
    struct SampleParams: Codable, Sendable {
        struct Options: Codable, Sendable {
            var temperature: Double
            var stop: [String]?
        }
        var problem: String
        var samples: Int
        var options: Options?
    }

    private func context(_ id: Int64 = 1, method: String = "m", sink: NotificationSink = NotificationSink { _ in }) -> RequestContext {
        RequestContext(id: .int(id), method: method, connection: ConnectionInfo(id: 1, transport: .inProcess, peer: "test"),
                       cancellation: CancellationFlag(), notifications: sink)
    }

    private func invalidParams(_ params: JSONValue?) async -> RPCError? {
        let router = Router()
        router.register("solve") { (params: SampleParams, _) in params.samples }
        let response = await router.respond(to: RPCRequest(id: .int(1), method: "solve", params: params), context: context())
        return response.error
    }

    func testTypedHandlerDecodesParamsAndEncodesResult() async throws {
        let router = Router()
        router.register("solve") { (params: SampleParams, _) in ["echo": params.problem, "n": String(params.samples)] }
        let response = await router.respond(
            to: RPCRequest(id: .int(3), method: "solve", params: ["problem": "1+1", "samples": 4]), context: context(3))
        XCTAssertEqual(response, .success(.int(3), ["echo": "1+1", "n": "4"]))
    }

    func testInvalidParamsNameTheFieldAndWhy() async {
        let missing = await invalidParams(["samples": 2])
        XCTAssertEqual(missing?.code, -32602)
        XCTAssertEqual(missing?.message, "invalid params: field 'problem': required field is missing")
        XCTAssertEqual(missing?.data?["field"], "problem")

        let wrongType = await invalidParams(["problem": "p", "samples": "four"])
        XCTAssertEqual(wrongType?.message, "invalid params: field 'samples': expected an integer, found string")

        let nested = await invalidParams(["problem": "p", "samples": 1, "options": ["temperature": "hot"]])
        XCTAssertEqual(nested?.data?["field"], "options.temperature")
        XCTAssertEqual(nested?.data?["reason"], "expected a number, found string")

        let inArray = await invalidParams(["problem": "p", "samples": 1, "options": ["temperature": 1, "stop": ["a", 5]]])
        XCTAssertEqual(inArray?.data?["field"], "options.stop[1]")

        let null = await invalidParams(["problem": nil, "samples": 1])
        XCTAssertEqual(null?.message, "invalid params: field 'problem': expected a string, found null")

        let absent = await invalidParams(nil)
        XCTAssertEqual(absent?.data?["field"], "problem", "absent params decode as {} and name the first missing field")

        let positional = await invalidParams(["p", 1])
        XCTAssertEqual(positional?.code, -32602)
    }

    func testUnknownMethodAndThrownErrorsMapThroughOnePlace() async {
        struct SandboxDown: RPCErrorConvertible {
            var rpcError: RPCError { RPCError(code: -32030, message: "sandbox pool unavailable") }
        }
        let router = Router()
        router.register("boom") { (_: EmptyParams, _) -> Int in throw SandboxDown() }
        router.register("validate") { (_: EmptyParams, _) -> Int in
            throw RPCError.invalidParams(field: "temperature", reason: "must be >= 0")
        }
        let unknown = await router.respond(to: RPCRequest(id: .int(1), method: "nope"), context: context())
        XCTAssertEqual(unknown.error?.code, -32601)
        XCTAssertEqual(unknown.error?.message, "method not found: nope")
        let boom = await router.respond(to: RPCRequest(id: .int(2), method: "boom"), context: context())
        XCTAssertEqual(boom.error, RPCError(code: -32030, message: "sandbox pool unavailable"))
        let validate = await router.respond(to: RPCRequest(id: .int(3), method: "validate"), context: context())
        XCTAssertEqual(validate.error?.message, "invalid params: field 'temperature': must be >= 0")
    }

    func testEmptyParamsAcceptObjectsAndAbsenceButNotPositionalParams() async {
        let router = Router()
        router.register("status") { (_: EmptyParams, _) in "ok" }
        let acceptedParams: [JSONValue?] = [nil, .object([:]), ["verbose": true]]
        for accepted in acceptedParams {
            let response = await router.respond(to: RPCRequest(id: .int(1), method: "status", params: accepted), context: context())
            XCTAssertEqual(response, .success(.int(1), "ok"), "\(String(describing: accepted))")
        }
        let positional = await router.respond(to: RPCRequest(id: .int(2), method: "status", params: [1, 2]), context: context())
        XCTAssertEqual(positional.error?.message, "invalid params: params: expected an object, found array")
    }

    func testProgressGoesToTheSinkTaggedWithTheRequestID() async throws {
        let store = Locked<[RPCNotification]>([])
        let router = Router()
        router.register("count") { (_: EmptyParams, context) -> Int in
            for step in 1 ... 3 { try context.progress(["step": step], token: context.id) }
            return 3
        }
        _ = await router.respond(to: RPCRequest(id: .string("job"), method: "count"),
                                 context: context(method: "count", sink: .collecting(into: store)))
        let tokens = store.current.compactMap(ProgressNotification.init).map(\.token)
        let values = store.current.compactMap(ProgressNotification.init).map(\.value)
        XCTAssertEqual(tokens, [.int(1), .int(1), .int(1)])
        XCTAssertEqual(values, [["step": 1], ["step": 2], ["step": 3]])
    }
}

final class SessionTests: XCTestCase {
    func testLifecycleFollowsLSP() {
        var session = Session()
        XCTAssertEqual(session.admit(method: "status", serverStopping: false), .reject(.serverNotInitialized))
        XCTAssertEqual(session.admit(method: "shutdown", serverStopping: false), .reject(.serverNotInitialized))
        XCTAssertFalse(session.acceptsNotification("custom"))
        XCTAssertTrue(session.acceptsNotification("exit"))
        XCTAssertEqual(session.admit(method: "initialize", serverStopping: false), .initialize)
        XCTAssertEqual(session.admit(method: "status", serverStopping: false), .holdUntilInitialized,
                       "requests wait for initialize's answer")
        session.initializeFinished(succeeded: true)
        XCTAssertEqual(session.admit(method: "initialize", serverStopping: false), .reject(.alreadyInitialized))
        XCTAssertEqual(session.admit(method: "status", serverStopping: false), .dispatch)
        XCTAssertEqual(session.exitStatus, 1)
        XCTAssertEqual(session.admit(method: "shutdown", serverStopping: false), .shutdown)
        guard case .reject(let error) = session.admit(method: "status", serverStopping: false) else { return XCTFail() }
        XCTAssertEqual(error.code, -32003)
        XCTAssertEqual(session.exitStatus, 0)
    }

    func testFailedInitializeCanBeRetried() {
        var session = Session()
        XCTAssertEqual(session.admit(method: "initialize", serverStopping: false), .initialize)
        session.initializeFinished(succeeded: false)
        XCTAssertEqual(session.admit(method: "initialize", serverStopping: false), .initialize)
    }

    func testStoppingServerRejectsEverything() {
        var session = Session()
        guard case .reject(let error) = session.admit(method: "initialize", serverStopping: true) else { return XCTFail() }
        XCTAssertEqual(error.code, RPCError.shuttingDownCode)
    }
}

final class EndpointAndAuthTests: XCTestCase {
    func testParsesAddresses() throws {
        XCTAssertEqual(try Endpoint(parsing: "tcp://127.0.0.1:7070"), .tcp(host: "127.0.0.1", port: 7070))
        XCTAssertEqual(try Endpoint(parsing: "tcp://[::1]:0"), .tcp(host: "::1", port: 0))
        XCTAssertEqual(try Endpoint(parsing: "tcp://:7070"), .tcp(host: "127.0.0.1", port: 7070), "no host means loopback")
        XCTAssertEqual(try Endpoint(parsing: "unix:/tmp/torl.sock"), .unix(path: "/tmp/torl.sock"))
        XCTAssertEqual(try Endpoint(parsing: "unix:///tmp/torl.sock"), .unix(path: "/tmp/torl.sock"))
        XCTAssertThrowsError(try Endpoint(parsing: "http://x:1"))
        XCTAssertThrowsError(try Endpoint(parsing: "tcp://127.0.0.1:70000")) { error in
            XCTAssertEqual((error as? EndpointError)?.reason, "port must be a number in 0...65535, found '70000'")
        }
        XCTAssertThrowsError(try Endpoint(parsing: "unix:" + String(repeating: "a", count: 120)))
    }

    func testLoopbackDetection() throws {
        for loopback in ["tcp://127.0.0.1:1", "tcp://127.8.9.10:1", "tcp://localhost:1", "tcp://[::1]:1"] {
            XCTAssertTrue(try Endpoint(parsing: loopback).isLoopback, loopback)
        }
        for exposed in ["tcp://0.0.0.0:1", "tcp://192.168.1.4:1", "tcp://[::]:1", "tcp://127.0.0.1.evil:1"] {
            XCTAssertFalse(try Endpoint(parsing: exposed).isLoopback, exposed)
        }
    }

    func testTokenIsRequiredBeyondLoopbackAndEnforcedWhenGiven() throws {
        let exposed = try Endpoint(parsing: "tcp://0.0.0.0:7070")
        XCTAssertThrowsError(try AuthPolicy.requiresToken(for: exposed, token: nil)) { error in
            XCTAssertTrue(String(describing: error).contains("requires --token"))
        }
        XCTAssertThrowsError(try AuthPolicy.requiresToken(for: exposed, token: "short"))
        XCTAssertTrue(try AuthPolicy.requiresToken(for: exposed, token: "0123456789abcdef"))
        XCTAssertFalse(try AuthPolicy.requiresToken(for: .tcp(host: "127.0.0.1", port: 1), token: nil))
        XCTAssertTrue(try AuthPolicy.requiresToken(for: .tcp(host: "127.0.0.1", port: 1), token: "0123456789abcdef"))
        XCTAssertFalse(try AuthPolicy.requiresToken(for: .unix(path: "/tmp/x"), token: "0123456789abcdef"))
    }

    func testTokenComparison() {
        let token = "0123456789abcdef"
        XCTAssertTrue(AuthPolicy.tokenMatches(presented: token, expected: token))
        XCTAssertFalse(AuthPolicy.tokenMatches(presented: nil, expected: token))
        XCTAssertFalse(AuthPolicy.tokenMatches(presented: "", expected: token))
        XCTAssertFalse(AuthPolicy.tokenMatches(presented: "0123456789abcdeF", expected: token))
        XCTAssertFalse(AuthPolicy.tokenMatches(presented: token + "0", expected: token))
        XCTAssertFalse(AuthPolicy.tokenMatches(presented: String(token.dropLast()), expected: token))
    }
}
