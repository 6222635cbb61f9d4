import JSONRPC
import Sandbox
import TorlProtocol

extension Daemon {
    func registerSandbox(on router: Router) {
        router.register(SandboxExecuteRequest.self) { [self] params, _ in
            let limits = try params.limits?.executionLimits(field: "limits")
            return ExecutionResultWire(await sandbox.execute(params.code, limits: limits))
        }
    }
}
