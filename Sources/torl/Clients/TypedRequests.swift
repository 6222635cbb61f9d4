import ArgumentParser
import JSONRPC
import TorlProtocol

extension RPCClient {
    /// Sends `method` with its protocol params and decodes its protocol result: the client side of
    /// TorlProtocol, as the daemon's handlers are the server side.
    func send<Method: TorlMethod>(_ method: Method.Type, _ params: Method.Params,
                                  onProgress: (@Sendable (JSONValue) -> Void)? = nil) async throws -> Method.Result {
        try await request(Method.method, params, as: Method.Result.self, onProgress: onProgress)
    }
}

/// The options of the client commands take the protocol's names, so that what a flag accepts is what the wire does.
extension PromptTemplateName: ExpressibleByArgument {}
extension ToolTriggerName: ExpressibleByArgument {}
extension WeightPrecisionName: ExpressibleByArgument {}
