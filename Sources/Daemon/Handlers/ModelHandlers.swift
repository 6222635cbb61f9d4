import JSONRPC
import Tensors
import TorlProtocol

extension Daemon {
    func registerModel(on router: Router) {
        router.register(ModelLoadRequest.self) { [self] params, context in
            try context.checkCancellation()
            // Exclusive: a rollout, evaluation or training step keeps the model it started with.
            return try await scheduler.exclusive("model/load") { [self] in
                // Checked here, in the exclusive job, so no train_step queued before the load slips in between.
                try training.ensureReplaceable(by: "model/load", discarding: params.discard_training ?? false)
                let info = try await loadModel(path: params.path, weights: params.weights.map(WeightPrecision.init) ?? configuration.weights,
                                               adapter: params.adapter)
                training.reset()
                return info
            }
        }
    }
}
