import ArgumentParser
import Foundation
import JSONRPC

/// How a client command reaches a daemon: `--connect ADDR`, else a private daemon over stdio.
struct DaemonConnectionOptions: ParsableArguments {
    @Option(help: "Daemon address (unix:PATH or tcp://HOST:PORT); default $TORL_CONNECT, else start one over stdio.")
    var connect: String?

    @Option(help: "Token for a non-loopback TCP daemon (default: $TORL_TOKEN).")
    var token: String?

    @Option(help: "Model for a daemon started over stdio (default: $TORL_MODEL).")
    var model: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func open() async throws -> RPCClient {
        let environment = ProcessInfo.processInfo.environment
        let endpoint: ClientEndpoint
        if let address = connect ?? environment["TORL_CONNECT"] {
            endpoint = .socket(try Endpoint(parsing: address))
        } else {
            var arguments = ["serve", "--stdio", "--log-level", "warning"]
            if let model = model ?? environment["TORL_MODEL"] { arguments += ["--model", model] }
            endpoint = .spawn(executable: "/proc/self/exe", arguments: arguments, stderrPath: nil)
        }
        let client = try await RPCClient.connect(to: endpoint)
        _ = try await client.initialize(token: token ?? environment["TORL_TOKEN"], clientName: "torl-cli")
        return client
    }
}

/// `torl solve PROBLEM`: a worked solution from a daemon, streamed to the terminal as it is written.
struct SolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "solve",
        abstract: "Solve a math problem with reasoning and Python, streamed from a daemon.")

    @OptionGroup var connection: DaemonConnectionOptions

    @Argument(help: "The problem (default: read from stdin).")
    var problem: String?

    @Option(help: "torl (the published plain prompt) or chat (the model's chat template).")
    var template: String?

    @Option(name: .customLong("max-tool-calls"), help: "Code blocks that may run.")
    var maxToolCalls: Int?

    @Option(name: .customLong("max-tokens"), help: "Response budget in tokens, tool output included.")
    var maxTokens: Int?

    @Option(help: "Sampling temperature (0: greedy, the default).")
    var temperature: Double?

    @Option(help: "Reference answer: grade the solution against it.")
    var reference: String?

    func run() throws {
        let text = problem ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let connection = connection
        let (params, streaming) = (parameters(for: text), !connection.json)
        let result = try blockingAwait { try await Self.solve(params, connection: connection, streaming: streaming) }
        if connection.json {
            print(String(decoding: try JSONCoding.encode(result), as: UTF8.self))
        } else {
            let answer = result["answer"]?.stringValue ?? "none"
            var summary = "\n\n-- answer: \(answer)"
            if let verdict = result["grade"]?["verdict"]?.stringValue { summary += " (\(verdict))" }
            summary += ", \(result["tool_calls"]?.arrayValue?.count ?? 0) tool call(s), finish: \(result["finish_reason"]?.stringValue ?? "?")"
            print(summary)
        }
    }

    private func parameters(for text: String) -> JSONValue {
        var params: [String: JSONValue] = ["problem": .string(text)]
        if let template { params["template"] = .string(template) }
        if let maxToolCalls { params["max_tool_calls"] = .int(Int64(maxToolCalls)) }
        if let maxTokens { params["max_tokens"] = .int(Int64(maxTokens)) }
        if let temperature { params["temperature"] = .double(temperature) }
        if let reference { params["reference"] = .string(reference) }
        return .object(params)
    }

    private static func solve(_ params: JSONValue, connection: DaemonConnectionOptions, streaming: Bool) async throws -> JSONValue {
        let client = try await connection.open()
        let result: JSONValue
        do {
            result = try await client.request("solve", params: params, onProgress: { value in
                guard streaming, value["kind"]?.stringValue == "text", let delta = value["delta"]?.stringValue else { return }
                FileHandle.standardOutput.write(Data(delta.utf8))
            })
        } catch {
            await client.close()
            throw error
        }
        try? await client.shutdownAndExit()
        await client.close()
        return result
    }
}

/// `torl status`: the health of a daemon.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a daemon's model, sandbox, queues and memory.")

    @OptionGroup var connection: DaemonConnectionOptions

    func run() throws {
        let connection = connection
        let status = try blockingAwait { () async throws -> JSONValue in
            let client = try await connection.open()
            let status = try await client.request("status")
            try? await client.shutdownAndExit()
            await client.close()
            return status
        }
        if connection.json {
            print(String(decoding: try JSONCoding.encode(status), as: UTF8.self))
            return
        }
        let model = status["model"]
        if let name = model?["name"]?.stringValue {
            print("model:    \(name) (\(model?["architecture"]?.stringValue ?? "?"), \(model?["parameters"]?.intValue ?? 0) parameters, \(model?["weights"]?.stringValue ?? "?"))")
        } else {
            print("model:    none loaded")
        }
        let sandbox = status["sandbox"]
        print("sandbox:  \(sandbox?["workers_alive"]?.intValue ?? 0)/\(sandbox?["pool_size"]?.intValue ?? 0) workers, isolation \(sandbox?["isolation"]?["namespaces"]?.stringValue ?? "?"), \(sandbox?["runs_total"]?.intValue ?? 0) runs")
        print("training: step \(status["training"]?["step"]?.intValue ?? 0)\(status["training"]?["running"] == .bool(true) ? " (running)" : "")")
        print("memory:   \((status["memory"]?["rss_bytes"]?.intValue ?? 0) >> 20) MiB resident, up \(Int(status["uptime_s"]?.doubleValue ?? 0)) s")
    }
}
