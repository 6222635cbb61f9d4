"""LoRA adapters between torl and Hugging Face PEFT, both ways, on a tiny random Qwen2 made here (no download).

PEFT -> torl: an adapter PEFT saved, loaded by `torl generate --adapter`, gives the logits transformers + peft give.
torl -> PEFT: the adapter `torl train --lora ... --export-adapter` writes loads in peft on top of the base and gives
torl's logits; the merged folder of `--export` gives them in plain transformers. Tolerance 1e-3 on logits of order 1:
both sides compute in f32 (torl's kernels and PyTorch's sum in different orders; ~1e-6 apart in practice).
"""
import json
import os
import subprocess

import pytest

try:
    import peft
    import tokenizers  # noqa: F401 (the tiny model's tokenizer)
    import torch
    import transformers
except ImportError as error:  # make setup installs them into .venv-dev (scripts/setup.sh DEV_PACKAGES)
    pytest.fail("the PEFT interchange test needs torch, transformers, peft and tokenizers in .venv-dev: %s" % error,
                pytrace=False)

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPT = [5, 17, 42, 99, 3, 250, 7, 64]


def make_base(folder):
    """A random Qwen2 (untied head, q/k/v biases) in f32 with a byte-level tokenizer of 256 bytes + 1 special."""
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=260, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, rope_theta=10000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False)
    model = transformers.Qwen2ForCausalLM(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.2)
    model.save_pretrained(folder, safe_serialization=True)
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab["<|endoftext|>"] = 256
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(["<|endoftext|>"])
    tokenizer.save(os.path.join(folder, "tokenizer.json"))


def make_peft_adapter(base, folder):
    """A PEFT LoRA on every linear layer with random A and B (PEFT's init would start B at 0: no effect to test)."""
    model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, use_rslora=True, init_lora_weights=False,
                             task_type="CAUSAL_LM")
    adapted = peft.get_peft_model(model, config)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in adapted.named_parameters():
            if "lora_" in name:
                parameter.normal_(0, 0.3)
    adapted.save_pretrained(folder)


def hf_last_logits(base, adapter=None):
    model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if adapter is not None:
        model = peft.PeftModel.from_pretrained(model, adapter)
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([PROMPT])).logits[0, -1]


def torl_top_logits(torl_bin, base, adapter):
    """The 10 largest logits at the prompt's last position, as `torl generate --json` reports them."""
    command = [torl_bin, "generate", "--model", base, "--prompt-ids", ",".join(map(str, PROMPT)), "--max-tokens", "1",
               "--greedy", "--json"]
    if adapter is not None:
        command += ["--adapter", adapter]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout
    return [(entry["id"], entry["logit"]) for entry in json.loads(output)["top_logits"]]


def assert_logits_match(torl_logits, reference):
    assert len(torl_logits) == 10
    for token, logit in torl_logits:
        assert abs(logit - reference[token].item()) < 1e-3, (token, logit, reference[token].item())
    # torl's top 10 are the reference's top 10.
    assert sorted(t for t, _ in torl_logits) == sorted(torch.topk(reference, 10).indices.tolist())


def test_peft_adapters_in_and_out(torl_bin, tmp_path):
    base, adapter_in = str(tmp_path / "base"), str(tmp_path / "adapter-in")
    make_base(base)
    make_peft_adapter(base, adapter_in)
    plain, adapted = hf_last_logits(base), hf_last_logits(base, adapter_in)
    assert (plain - adapted).abs().max().item() > 0.1, "the adapter changes the logits"

    # PEFT -> torl
    assert_logits_match(torl_top_logits(torl_bin, base, None), plain)
    assert_logits_match(torl_top_logits(torl_bin, base, adapter_in), adapted)

    # torl -> PEFT: one LoRA training step from the loaded adapter, then both exports.
    adapter_out, merged = str(tmp_path / "adapter-out"), str(tmp_path / "merged")
    subprocess.run([torl_bin, "train", "--model", base, "--adapter", adapter_in, "--synthetic", "--steps", "1",
                    "--batch", "1", "--group-size", "2", "--max-tokens", "8", "--max-tool-calls", "0", "--lr", "1e-2",
                    "--pool-size", "1", "--export-adapter", adapter_out, "--export", merged],
                   check=True, capture_output=True, text=True, timeout=600)
    with open(os.path.join(adapter_out, "adapter_config.json")) as f:
        config = json.load(f)
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert config["r"] == 4 and config["lora_alpha"] == 8 and config["use_rslora"] is True
    assert sorted(config["target_modules"]) == sorted(TARGETS)
    assert config["base_model_name_or_path"] == os.path.realpath(base) or config["base_model_name_or_path"] == base
    exported = hf_last_logits(base, adapter_out)
    assert_logits_match(torl_top_logits(torl_bin, base, adapter_out), exported)
    merged_logits = hf_last_logits(merged)
    assert (merged_logits - exported).abs().max().item() < 1e-3


def test_fresh_lora_settings_reach_the_exported_adapter(torl_bin, tmp_path):
    """train_step's LoRA settings (rank, alpha, targets, rsLoRA) from `torl train --lora-*` end up in a PEFT folder
    peft loads, with torl's logits."""
    base, adapter = str(tmp_path / "base"), str(tmp_path / "adapter")
    make_base(base)
    subprocess.run([torl_bin, "train", "--model", base, "--synthetic", "--steps", "1", "--batch", "1", "--group-size", "2",
                    "--max-tokens", "8", "--max-tool-calls", "0", "--lr", "1e-2", "--pool-size", "1", "--lora-rank", "2",
                    "--lora-alpha", "4", "--lora-targets", "q,v,down", "--rslora", "--export-adapter", adapter],
                   check=True, capture_output=True, text=True, timeout=600)
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        config = json.load(f)
    assert config["r"] == 2 and config["lora_alpha"] == 4 and config["use_rslora"] is True
    assert config["target_modules"] == ["q_proj", "v_proj", "down_proj"]
    assert_logits_match(torl_top_logits(torl_bin, base, adapter), hf_last_logits(base, adapter))
