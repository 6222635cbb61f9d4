import ArgumentParser
import Foundation
import JSONRPC
import TorlProtocol

/// How a client command reaches a daemon: `--connect ADDR`, else a private daemon over stdio.
struct DaemonConnectionOptions: ParsableArguments {
    @Option(help: "Daemon address (unix:PATH or tcp://HOST:PORT); default $TORL_CONNECT, else start one over stdio.")
    var connect: String?

    @Option(help: "Token for a non-loopback TCP daemon (default: $TORL_TOKEN).")
    var token: String?

    @Option(help: "Model (.gguf file or Hugging Face folder) for a daemon started over stdio (default: $TORL_MODEL); with --connect, loaded into that daemon (model/load) when it holds another one.")
    var model: String?

    @Option(help: "A PEFT LoRA folder applied on top of the model: passed to a daemon started over stdio; with --connect, the model is loaded with it (model/load) unless the daemon holds it already.")
    var adapter: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "With --connect: let --model/--weights (model/load) and train's --resume (checkpoint/restore) discard the daemon's training steps that were never saved or exported.")
    var discardTraining = false

    /// What a command asks of the daemon beyond the connection. A private daemon is started with it; a daemon
    /// reached with --connect is shared, so its sandbox pool is its own and its model is only replaced when the
    /// user named another model or precision.
    struct Requirements {
        var weights: WeightPrecisionName?
        var poolSize: Int?
    }

    /// Connects (or starts a daemon), initializes, and makes sure the model the command needs is loaded.
    func open(_ requirements: Requirements = Requirements()) async throws -> RPCClient {
        let environment = ProcessInfo.processInfo.environment
        let endpoint: ClientEndpoint
        let address = connect ?? environment["TORL_CONNECT"]
        if let address {
            if requirements.poolSize != nil {
                throw ValidationError("--pool-size only applies to a daemon this command starts; the daemon at \(address) keeps its own pool (torl serve --pool-size)")
            }
            endpoint = .socket(try Endpoint(parsing: address))
        } else {
            var arguments = ["serve", "--stdio", "--log-level", "warning"]
            if let model = model ?? environment["TORL_MODEL"] { arguments += ["--model", Self.absolute(model)] }
            if let weights = requirements.weights { arguments += ["--weights", weights.rawValue] }
            if let adapter { arguments += ["--adapter", Self.absolute(adapter)] }
            if let poolSize = requirements.poolSize { arguments += ["--pool-size", String(poolSize)] }
            endpoint = .spawn(executable: try ownExecutablePath(), arguments: arguments, stderrPath: nil)
        }
        let client = try await RPCClient.connect(to: endpoint)
        do {
            let info = try await client.initialize(token: token ?? environment["TORL_TOKEN"], clientName: "torl-cli")
            if address != nil {
                // Only `model` of the result is read: a stand-in daemon (tests) may answer nothing else.
                let loaded = try info["model"].flatMap { $0 == .null ? nil : try JSONCoding.decode(ModelInfo.self, from: $0) }
                try await loadRequestedModel(client, loaded: loaded, weights: requirements.weights)
            }
        } catch {
            await client.close()
            throw error
        }
        return client
    }

    /// Runs `work` on an opened client, then says goodbye (a private daemon exits with it).
    func withClient<T>(_ requirements: Requirements = Requirements(),
                       _ work: (RPCClient) async throws -> T) async throws -> T {
        let client = try await open(requirements)
        let result: T
        do {
            result = try await work(client)
        } catch {
            await client.close()
            throw error
        }
        try? await client.shutdownAndExit()
        await client.close()
        return result
    }

    /// `model/load` on a shared daemon when --model or a precision was asked for and differs from what it holds.
    private func loadRequestedModel(_ client: RPCClient, loaded: ModelInfo?, weights: WeightPrecisionName?) async throws {
        let loadedPath = loaded?.path
        let loadedWeights = loaded?.weights
        let wantedPath = model.map(Self.absolute) ?? loadedPath
        guard let wantedPath else { return }
        let wantedWeights = weights ?? loadedWeights ?? .f32
        // The same file named another way (a symlink, `..`) is the same model: reloading would reset the daemon's
        // trainer for nothing.
        let samePath = loadedPath.map { Self.canonical($0) == Self.canonical(wantedPath) } ?? false
        let loadedAdapter = loaded?.adapter
        let sameAdapter = adapter.map { wanted in loadedAdapter.map { Self.canonical($0) == Self.canonical(Self.absolute(wanted)) } ?? false } ?? true
        guard !samePath || wantedWeights != loadedWeights || !sameAdapter else { return }
        FileHandle.standardError.write(Data("loading \(wantedPath) (\(wantedWeights.rawValue)) into the daemon\n".utf8))
        let params = ModelLoadParams(path: wantedPath, weights: wantedWeights, adapter: adapter.map(Self.absolute),
                                     discard_training: discardTraining ? true : nil)
        try await requestReplacingTrainer(client, ModelLoadRequest.self, params,
                                          action: "loading \(wantedPath) (\(wantedWeights.rawValue))",
                                          instead: "leave out --model/--weights to use the daemon's model as it is")
    }

    /// A request that replaces the daemon's trainer (`model/load`, `checkpoint/restore`). The daemon refuses it
    /// while the trainer has steps nobody saved; that refusal is said in the command's own terms.
    @discardableResult
    func requestReplacingTrainer<Method: TorlMethod>(_ client: RPCClient, _ method: Method.Type, _ params: Method.Params,
                                                    action: String, instead: String) async throws -> Method.Result {
        do {
            return try await client.send(method, params)
        } catch let error as RPCError {
            guard let data = error.data.flatMap({ try? JSONCoding.decode(UnsavedTrainingData.self, from: $0) }),
                  data.kind == .unsavedTraining else { throw error }
            let (step, unsaved) = (data.step, data.unsaved_steps)
            throw CommandFailure(description: """
                \(action) would discard the daemon's trainer: it is at step \(step) with \(unsaved) step(s) not saved or \
                exported, possibly another client's training. Either \(instead), save that training first \
                (checkpoint/save or model/export), or pass --discard-training.
                """)
        }
    }

    /// Paths sent to a daemon are absolute: its working directory is not the caller's.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// The path with symbolic links resolved, for telling whether two names mean one file.
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
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
    var template: PromptTemplateName?

    @OptionGroup var prompt: PromptOptions

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
        let (params, streaming) = (try parameters(for: text), !connection.json)
        let answer = try blockingAwait { try await Self.solve(params, connection: connection, streaming: streaming) }
        if connection.json {
            // The daemon's answer as it came, whatever a newer daemon adds to it.
            print(String(decoding: try JSONCoding.encode(answer), as: UTF8.self))
        } else {
            let result = try JSONCoding.decode(SolveResult.self, from: answer)
            var summary = "\n\n-- answer: \(result.answer ?? "none")"
            if let grade = result.grade { summary += " (\(grade.verdict))" }
            summary += ", \(result.tool_calls.count) tool call(s), finish: \(result.finish_reason)"
            print(summary)
        }
    }

    /// The `solve` params: the options given (the daemon's defaults for the rest), the problem and the reference.
    func parameters(for text: String) throws -> SolveParams {
        SolveParams(problem: text, reference: reference,
                    options: GenerationOptions(template: template, maxToolCalls: maxToolCalls, maxTokens: maxTokens,
                                               temperature: temperature, prompt: prompt))
    }

    /// The `solve` answer, undecoded: `--json` prints it as it came.
    private static func solve(_ params: SolveParams, connection: DaemonConnectionOptions,
                              streaming: Bool) async throws -> JSONValue {
        try await connection.withClient { client in
            try await client.request(SolveRequest.method, params: try JSONCoding.value(params), onProgress: { value in
                guard streaming, let progress = try? JSONCoding.decode(SolveProgress.self, from: value),
                      progress.kind == "text", let delta = progress.delta else { return }
                FileHandle.standardOutput.write(Data(delta.utf8))
            })
        }
    }
}

/// `torl status`: the health of a daemon.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a daemon's model, sandbox, queues and memory.")

    @OptionGroup var connection: DaemonConnectionOptions

    func run() throws {
        let connection = connection
        let status = try blockingAwait {
            try await connection.withClient { try await $0.send(StatusRequest.self, NoParams()) }
        }
        if connection.json {
            print(String(decoding: try JSONCoding.encode(status), as: UTF8.self))
            return
        }
        if let model = status.model {
            print("model:    \(model.name) (\(model.architecture), \(model.parameters) parameters, \(model.weights.rawValue))")
        } else {
            print("model:    none loaded")
        }
        let sandbox = status.sandbox
        print("sandbox:  \(sandbox.workers_alive)/\(sandbox.pool_size) workers, isolation \(sandbox.isolation?.namespaces ?? "?"), \(sandbox.runs_total) runs")
        let training = status.training
        let unsaved = training.unsaved_steps
        print("training: step \(training.step)\(training.running ? " (running)" : "")\(unsaved > 0 ? ", \(unsaved) not saved or exported" : "")")
        print("memory:   \(status.memory.rss_bytes >> 20) MiB resident, up \(Int(status.uptime_s)) s")
    }
}
