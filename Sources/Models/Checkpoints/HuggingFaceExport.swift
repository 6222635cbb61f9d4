import Foundation
import Tensors

extension TrainableTransformer {
    /// Writes the policy as a Hugging Face folder: `config.json`, `model.safetensors` (F32) and copies of the given
    /// tokenizer files (`tokenizer.json`, `tokenizer_config.json`, ...). The folder is assembled under a temporary
    /// name and renamed into place, so `directory` is either absent or complete. It must not exist or be empty.
    ///
    /// Hugging Face rotates the halves of each head; weights in llama.cpp's adjacent-pair order get their q/k rows
    /// permuted back. A Qwen2 model without attention biases gets zero biases (Qwen2 always has them). Gemma 3
    /// becomes a `Gemma3ForCausalLM` (`gemma3_text`) folder; its norm weights are already Hugging Face's w (the
    /// model multiplies by 1 + w).
    public func exportHuggingFace(to directory: String, tokenizerFiles: [String] = []) throws {
        try writeFolder(directory) { staging in
            try writeConfigJSON(to: (staging as NSString).appendingPathComponent("config.json"))
            try writeSafetensors(to: (staging as NSString).appendingPathComponent("model.safetensors"))
            for file in tokenizerFiles {
                let target = (staging as NSString).appendingPathComponent((file as NSString).lastPathComponent)
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                    throw TrainingFileError.cannotWrite(path: target, reason: "cannot read \(file)")
                }
                let writer = try AtomicFileWriter(destination: target)
                try writer.write(data)
                try writer.commit()
            }
        }
    }

    private func writeConfigJSON(to path: String) throws {
        let c = configuration
        var config: [String: Any] = [
            "architectures": [c.architecture == .qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
            "model_type": c.architecture.rawValue,
            "vocab_size": c.vocabularySize,
            "hidden_size": c.hiddenSize,
            "intermediate_size": c.intermediateSize,
            "num_hidden_layers": c.layerCount,
            "num_attention_heads": c.headCount,
            "num_key_value_heads": c.keyValueHeadCount,
            "head_dim": c.headDimension,
            "max_position_embeddings": c.contextLength,
            "rope_theta": c.ropeTheta,
            "rms_norm_eps": c.rmsNormEpsilon,
            "tie_word_embeddings": c.tiedEmbeddings,
            "hidden_act": "silu",
            "torch_dtype": "float32",
        ]
        if c.architecture == .llama {
            config["attention_bias"] = c.attentionBias
            config["mlp_bias"] = false
        }
        if c.architecture == .gemma3 {
            config["hidden_act"] = nil
            config.merge(Self.gemma3ConfigFields(c)) { $1 }
        }
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        let writer = try AtomicFileWriter(destination: path)
        try writer.write(data)
        try writer.commit()
    }

    /// What `Gemma3TextConfig` reads beyond the shared fields, as Google's gemma-3-270m config.json spells it
    /// (the window pattern both as the older integer and as transformers' per-layer `layer_types`).
    static func gemma3ConfigFields(_ c: ModelConfiguration) -> [String: Any] {
        [
            "architectures": ["Gemma3ForCausalLM"],
            "model_type": "gemma3_text",
            "hidden_activation": "gelu_pytorch_tanh",
            "query_pre_attn_scalar": c.queryPreAttentionScalar ?? Double(c.headDimension),
            "sliding_window": c.slidingWindow ?? NSNull(),
            "sliding_window_pattern": c.slidingWindowPattern ?? NSNull(),
            "layer_types": (0..<c.layerCount).map { c.isSlidingWindowLayer($0) ? "sliding_attention" : "full_attention" },
            "rope_local_base_freq": c.localRopeTheta ?? c.ropeTheta,
            "rope_scaling": NSNull(),
            "final_logit_softcapping": NSNull(),
            "attn_logit_softcapping": NSNull(),
            "attention_bias": false,
            "attention_dropout": 0.0,
            "use_bidirectional_attention": false,
        ]
    }

    private func writeSafetensors(to path: String) throws {
        let c = configuration
        var tensors = try mergedTensors()
        if c.ropePairing == .adjacent {
            for (name, tensor) in tensors where name.hasSuffix("q_proj.weight") || name.hasSuffix("k_proj.weight")
                || name.hasSuffix("q_proj.bias") || name.hasSuffix("k_proj.bias") {
                tensors[name]!.values = Self.halvesOrder(tensor.values, rowWidth: tensor.shape.count == 2 ? tensor.shape[1] : 1,
                                                         headDimension: c.headDimension)
            }
        }
        if c.architecture == .qwen2 && !c.attentionBias {
            let queryWidth = c.headCount * c.headDimension, keyValueWidth = c.keyValueHeadCount * c.headDimension
            for l in 0..<c.layerCount {
                for (projection, width) in [("q_proj", queryWidth), ("k_proj", keyValueWidth), ("v_proj", keyValueWidth)] {
                    tensors["model.layers.\(l).self_attn.\(projection).bias"] =
                        NamedTensor(shape: [width], values: [Float](repeating: 0, count: width))
                }
            }
        }
        let names = tensors.keys.sorted()
        let arrays = names.map { tensors[$0]! }
        try withBuffers(arrays.map(\.values)) { buffers in
            try SafetensorsWriter.write(zip(names, zip(arrays, buffers)).map {
                SafetensorsWriter.Tensor(name: $0.0, shape: $0.1.0.shape, values: $0.1.1)
            }, metadata: ["format": "pt"], to: path)
        }
    }

    /// Reorders each head's rows from adjacent pairs (2i, 2i + 1) to halves (i, i + d/2): halves row i is
    /// adjacent row 2i, halves row i + d/2 is adjacent row 2i + 1.
    // values: [heads · d, rowWidth] → same shape
    static func halvesOrder(_ values: [Float], rowWidth: Int, headDimension d: Int) -> [Float] {
        permutingHeadRows(values, rowWidth: rowWidth, headDimension: d, toHalves: true)
    }

    /// The inverse of `halvesOrder`: Hugging Face's halves order back to llama.cpp's adjacent pairs.
    static func adjacentOrder(_ values: [Float], rowWidth: Int, headDimension d: Int) -> [Float] {
        permutingHeadRows(values, rowWidth: rowWidth, headDimension: d, toHalves: false)
    }

    private static func permutingHeadRows(_ values: [Float], rowWidth: Int, headDimension d: Int, toHalves: Bool) -> [Float] {
        var result = values
        let heads = values.count / (d * rowWidth)
        for head in 0..<heads {
            for i in 0..<(d / 2) {
                for (halves, adjacent) in [(i, 2 * i), (i + d / 2, 2 * i + 1)] {
                    let (target, source) = toHalves ? (halves, adjacent) : (adjacent, halves)
                    let to = (head * d + target) * rowWidth, from = (head * d + source) * rowWidth
                    result[to..<(to + rowWidth)] = values[from..<(from + rowWidth)]
                }
            }
        }
        return result
    }
}

/// Writes a folder whole or not at all: `body` fills a temporary sibling, which is renamed to `directory` (which
/// must not exist or be empty) and the parent directory is synced.
func writeFolder(_ directory: String, _ body: (_ staging: String) throws -> Void) throws {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
        guard isDirectory.boolValue, (try? manager.contentsOfDirectory(atPath: directory))?.isEmpty == true else {
            throw TrainingFileError.destinationNotEmpty(path: directory)
        }
        try? manager.removeItem(atPath: directory)
    }
    let staging = directory + ".partial-\(UUID().uuidString)"
    do {
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: true)
    } catch {
        throw TrainingFileError.cannotWrite(path: staging, reason: error.localizedDescription)
    }
    do {
        try body(staging)
        guard rename(staging, directory) == 0 else {
            throw TrainingFileError.cannotWrite(path: directory, reason: String(cString: strerror(errno)))
        }
        syncDirectory(containing: directory)
    } catch {
        try? manager.removeItem(atPath: staging)
        throw error
    }
}

/// Calls `body` with stable buffer pointers to every array.
func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
    var pointers: [UnsafeBufferPointer<Float>] = []
    func recurse(_ index: Int) throws -> R {
        if index == arrays.count { return try body(pointers) }
        return try arrays[index].withUnsafeBufferPointer { buffer in
            pointers.append(buffer)
            return try recurse(index + 1)
        }
    }
    return try recurse(0)
}
