import JSONRPC
import Sandbox

struct SandboxExecuteParams: WireParams {
    var code: String
    var limits: ExecutionLimits?
    enum CodingKeys: String, CodingKey, CaseIterable { case code, limits }
    static let acceptedFields = CodingKeys.names
    static let acceptedNestedFields = ["limits": ExecutionLimits.CodingKeys.names]
}

extension Daemon {
    func registerSandbox(on router: Router) {
        router.register(strict: "sandbox/execute") { [self] (params: SandboxExecuteParams, _) -> ExecutionResult in
            if let limits = params.limits, let problem = limits.problem() {
                throw RPCError.invalidParams(field: "limits", reason: problem)
            }
            return await sandbox.execute(params.code, limits: params.limits)
        }
    }
}
