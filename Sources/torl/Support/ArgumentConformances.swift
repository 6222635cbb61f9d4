import ArgumentParser
import Models
import Tensors

/// `--weights f32|bf16` on every command that loads a model; ArgumentParser lists the choices in errors.
extension WeightPrecision: ExpressibleByArgument {}

/// `--activations keepAll|recomputePerLayer` on `torl train` and `torl bench train`.
extension ActivationPolicy: ExpressibleByArgument {}
