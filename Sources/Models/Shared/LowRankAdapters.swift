import Foundation
import Tensors

/// A linear layer of a decoder block that can carry a LoRA adapter, named as Hugging Face and PEFT name it.
public enum LoRATarget: String, CaseIterable, Sendable, Codable {
    case q, k, v, o, gate, up, down

    /// PEFT's `target_modules` entry: `q_proj`, ..., `down_proj`.
    public var moduleName: String { rawValue + "_proj" }
    /// The module's path inside a decoder layer: `self_attn.q_proj`, `mlp.gate_proj`, ...
    public var modulePath: String {
        switch self {
        case .q, .k, .v, .o: return "self_attn." + moduleName
        case .gate, .up, .down: return "mlp." + moduleName
        }
    }

    public init?(moduleName: String) {
        guard moduleName.hasSuffix("_proj") else { return nil }
        self.init(rawValue: String(moduleName.dropLast(5)))
    }

    /// The wrapped weight's [out, in].
    public func shape(_ c: ModelConfiguration) -> (outFeatures: Int, inFeatures: Int) {
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension
        switch self {
        case .q: return (Q, c.hiddenSize)
        case .k, .v: return (KV, c.hiddenSize)
        case .o: return (c.hiddenSize, Q)
        case .gate, .up: return (c.intermediateSize, c.hiddenSize)
        case .down: return (c.hiddenSize, c.intermediateSize)
        }
    }

    /// First column of this projection's output inside the fused output the engines compute: q, k, v share one
    /// [T, Q + 2 KV] row, gate and up one [T, 2 F] row.
    func fusedColumn(_ c: ModelConfiguration) -> Int {
        let Q = c.headCount * c.headDimension, KV = c.keyValueHeadCount * c.headDimension
        switch self {
        case .k: return Q
        case .v: return Q + KV
        case .up: return c.intermediateSize
        default: return 0
        }
    }
}

/// LoRA's hyper-parameters: W' = W + scale · B·A with A: [r, in], B: [out, r] on each target, scale alpha / r
/// (Hu et al.) or alpha / sqrt(r) with rsLoRA (Kalajdzievski), PEFT's `use_rslora`.
public struct LoRAConfiguration: Sendable, Codable, Equatable {
    public var rank: Int
    public var alpha: Double
    public var targets: [LoRATarget]
    public var useRSLoRA: Bool

    /// Defaults: alpha = rank (scale 1), every linear layer of the blocks.
    public init(rank: Int, alpha: Double? = nil, targets: [LoRATarget] = LoRATarget.allCases, useRSLoRA: Bool = false) {
        self.rank = rank
        self.alpha = alpha ?? Double(rank)
        self.targets = LoRATarget.allCases.filter(targets.contains)
        self.useRSLoRA = useRSLoRA
    }

    public var scale: Float { Float(useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)) }

    public func validate() throws {
        guard rank >= 1 else { throw ModelError.invalidConfiguration(source: "LoRA", detail: "rank \(rank) must be at least 1") }
        guard alpha.isFinite, alpha > 0 else {
            throw ModelError.invalidConfiguration(source: "LoRA", detail: "alpha \(alpha) must be positive")
        }
        guard !targets.isEmpty else { throw ModelError.invalidConfiguration(source: "LoRA", detail: "no target module") }
    }
}

/// The A and B matrices of every adapted linear layer in one flat f32 buffer (what the optimizer updates and what
/// the engines add at run time): y += scale · (x·Aᵀ)·Bᵀ. Entries carry PEFT's tensor names
/// (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`).
///
/// Not thread-safe: one owner (the compute thread) reads and writes it.
public final class LoRAAdapters {
    public typealias Entry = ParameterLayout.Entry

    /// Offsets of one adapter's A: [r, in] and B: [out, r].
    struct Pair { let a: Int, b: Int, inFeatures: Int, outFeatures: Int }

    public let configuration: LoRAConfiguration
    public let model: ModelConfiguration
    public let entries: [Entry]
    public let values: FloatBuffer
    /// pairs[layer][target]
    let pairs: [[LoRATarget: Pair]]

    public init(configuration: LoRAConfiguration, model: ModelConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        self.model = model
        let r = configuration.rank
        var entries: [Entry] = [], pairs: [[LoRATarget: Pair]] = [], total = 0
        for l in 0..<model.layerCount {
            var layer: [LoRATarget: Pair] = [:]
            for target in configuration.targets {
                let (outFeatures, inFeatures) = target.shape(model)
                let prefix = Self.peftPrefix(layer: l, target: target)
                entries.append(Entry(name: prefix + ".lora_A.weight", shape: [r, inFeatures], offset: total))
                entries.append(Entry(name: prefix + ".lora_B.weight", shape: [outFeatures, r], offset: total + r * inFeatures))
                layer[target] = Pair(a: total, b: total + r * inFeatures, inFeatures: inFeatures, outFeatures: outFeatures)
                total += r * (inFeatures + outFeatures)
            }
            pairs.append(layer)
        }
        self.entries = entries
        self.pairs = pairs
        values = FloatBuffer(count: total)
    }

    /// `base_model.model.model.layers.L.self_attn.q_proj`: PEFT's name of the wrapped module.
    public static func peftPrefix(layer: Int, target: LoRATarget) -> String {
        "base_model.model.model.layers.\(layer).\(target.modulePath)"
    }

    public var parameterCount: Int { values.count }
    public var scale: Float { configuration.scale }

    /// PEFT's initialisation: A kaiming-uniform with a = sqrt(5) (bound 1/sqrt(in), torch's default for
    /// `nn.Linear`), B = 0, so the adapted model starts equal to the base. A is drawn from `seed`.
    public func initializeLikePEFT(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        values.zero()
        for layer in pairs { for target in configuration.targets {
            let pair = layer[target]!
            // gain = sqrt(2 / (1 + a²)) = sqrt(1/3); bound = gain · sqrt(3 / fan_in) = 1 / sqrt(fan_in)
            let bound = 1 / Double(pair.inFeatures).squareRoot()
            for i in 0..<(configuration.rank * pair.inFeatures) {
                values.pointer[pair.a + i] = Float((2 * generator.nextUnitFloat() - 1) * bound)
            }
        } }
    }

    /// A copy with the same values.
    public func copy() throws -> LoRAAdapters {
        let result = try LoRAAdapters(configuration: configuration, model: model)
        result.values.copy(from: values)
        return result
    }

    /// The adapter tensors under PEFT names.
    public func namedTensors() -> [String: NamedTensor] {
        Dictionary(uniqueKeysWithValues: entries.map {
            ($0.name, NamedTensor(shape: $0.shape, values: values.array(range: $0.range)))
        })
    }

    /// Replaces every adapter tensor; missing, unknown and misshapen ones are reported by name, nothing changes then.
    public func load(_ tensors: [String: NamedTensor], source: String) throws {
        let expected = Set(entries.map(\.name))
        if let unknown = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw ModelError.invalidConfiguration(source: source, detail: "unexpected adapter tensor \(unknown)")
        }
        for entry in entries {
            guard let tensor = tensors[entry.name] else {
                throw ModelError.invalidConfiguration(source: source, detail: "missing adapter tensor \(entry.name)")
            }
            guard tensor.shape == entry.shape, tensor.values.count == entry.count else {
                throw ModelError.invalidConfiguration(
                    source: source, detail: "adapter tensor \(entry.name) has shape \(tensor.shape), expected \(entry.shape)")
            }
        }
        for entry in entries {
            tensors[entry.name]!.values.withUnsafeBufferPointer {
                (values.pointer + entry.offset).update(from: $0.baseAddress!, count: entry.count)
            }
        }
    }

    /// The merged weight's change scale · B·A: [out, in] of `target` in `layer`, or nil when it has no adapter.
    public func delta(layer: Int, target: LoRATarget) -> [Float]? {
        guard let pair = pairs[layer][target] else { return nil }
        var result = [Float](repeating: 0, count: pair.outFeatures * pair.inFeatures)
        result.withUnsafeMutableBufferPointer { out in
            // out: [out, in] = scale · B: [out, r] · A: [r, in]
            GEMM.multiply(transposeA: false, transposeB: false, m: pair.outFeatures, n: pair.inFeatures,
                          k: configuration.rank, alpha: scale, a: values.pointer + pair.b, lda: configuration.rank,
                          b: values.pointer + pair.a, ldb: pair.inFeatures, beta: 0, c: out.baseAddress!,
                          ldc: pair.inFeatures)
        }
        return result
    }

    /// y[:, 0..<out] (row stride ldy) += scale · (x·Aᵀ)·Bᵀ for `target` of `layer` (nothing when it has no adapter).
    // x: [rows, in], y: [rows, ldy]
    public func addLowRank(layer: Int, target: LoRATarget, x: UnsafePointer<Float>, rows: Int,
                           y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard rows > 0, let pair = pairs[layer][target] else { return }
        let r = configuration.rank
        let u = FloatBuffer(count: rows * r)
        // u: [rows, r] = x · Aᵀ
        GEMM.multiply(transposeA: false, transposeB: true, m: rows, n: r, k: pair.inFeatures, a: x,
                      lda: pair.inFeatures, b: values.pointer + pair.a, ldb: pair.inFeatures, beta: 0, c: u.pointer, ldc: r)
        // y += scale · u · Bᵀ
        GEMM.multiply(transposeA: false, transposeB: true, m: rows, n: pair.outFeatures, k: r, alpha: scale,
                      a: u.pointer, lda: r, b: values.pointer + pair.b, ldb: r, beta: 1, c: y, ldc: ldy)
    }

    /// The backward pass of `addLowRank`, accumulating (+=) into `gradients` (laid out like `values`) and into dx.
    // dy: [rows, ldy] (this target's columns), x: [rows, in] → dx: [rows, in] +=
    public func backwardLowRank(layer: Int, target: LoRATarget, dy: UnsafePointer<Float>, ldy: Int,
                                x: UnsafePointer<Float>, rows: Int, dx: UnsafeMutablePointer<Float>,
                                gradients: UnsafeMutablePointer<Float>) {
        guard rows > 0, let pair = pairs[layer][target] else { return }
        let r = configuration.rank, IN = pair.inFeatures, OUT = pair.outFeatures
        let a = values.pointer + pair.a, b = values.pointer + pair.b
        let u = FloatBuffer(count: rows * r), du = FloatBuffer(count: rows * r)
        // u: [rows, r] = x · Aᵀ (recomputed: rows · r · in, small beside the layer's own products)
        GEMM.multiply(transposeA: false, transposeB: true, m: rows, n: r, k: IN, a: x, lda: IN, b: a, ldb: IN,
                      beta: 0, c: u.pointer, ldc: r)
        // dB: [out, r] += scale · dyᵀ · u
        GEMM.multiply(transposeA: true, transposeB: false, m: OUT, n: r, k: rows, alpha: scale, a: dy, lda: ldy,
                      b: u.pointer, ldb: r, beta: 1, c: gradients + pair.b, ldc: r)
        // du: [rows, r] = scale · dy · B
        GEMM.multiply(transposeA: false, transposeB: false, m: rows, n: r, k: OUT, alpha: scale, a: dy, lda: ldy,
                      b: b, ldb: r, beta: 0, c: du.pointer, ldc: r)
        // dA: [r, in] += duᵀ · x
        GEMM.multiply(transposeA: true, transposeB: false, m: r, n: IN, k: rows, a: du.pointer, lda: r, b: x, ldb: IN,
                      beta: 1, c: gradients + pair.a, ldc: IN)
        // dx: [rows, in] += du · A
        GEMM.multiply(transposeA: false, transposeB: false, m: rows, n: IN, k: r, a: du.pointer, lda: r, b: a, ldb: IN,
                      beta: 1, c: dx, ldc: IN)
    }

    /// Adds the q, k and v adapters into the engines' fused [rows, Q + 2 KV] projection (before RoPE and norms).
    // x: [rows, C], qkv: [rows, Q + 2 KV]
    func addAttentionInputs(layer: Int, x: UnsafePointer<Float>, rows: Int, qkv: UnsafeMutablePointer<Float>) {
        let width = LoRATarget.v.fusedColumn(model) + LoRATarget.v.shape(model).outFeatures
        for target in [LoRATarget.q, .k, .v] {
            addLowRank(layer: layer, target: target, x: x, rows: rows, y: qkv + target.fusedColumn(model), ldy: width)
        }
    }

    /// Adds the gate and up adapters into the fused [rows, 2 F] projection.
    func addGateUp(layer: Int, x: UnsafePointer<Float>, rows: Int, gateUp: UnsafeMutablePointer<Float>) {
        for target in [LoRATarget.gate, .up] {
            addLowRank(layer: layer, target: target, x: x, rows: rows, y: gateUp + target.fusedColumn(model),
                       ldy: 2 * model.intermediateSize)
        }
    }

    /// Bytes of the adapter values (f32).
    public var byteCount: Int { values.count * 4 }
}
