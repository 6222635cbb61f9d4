import JSONRPC
import Tensors

extension Daemon {
    func registerModel(on router: Router) {
        router.register(strict: "model/load") { [self] (params: ModelLoadParams, context) -> ModelInfo in
            try context.checkCancellation()
            return try await loadModel(path: params.path, weights: params.weights ?? configuration.weights)
        }
    }
}
