"""Gemma 3 270M, a base model, on a daemon: solve, rollout and evaluate use the published plain-text prompt by
default (the GGUF has no chat template); `model/export` writes a Hugging Face folder transformers loads as
Gemma3ForCausalLM, whose logits equal torl's within 1e-3 on the oracle's prompts and whose fast tokenizer gives
torl's ids on the tokenizer corpus; torl loads the folder back with the same logits. Needs the Gemma GGUF (`make
setup` installs it; TORL_GEMMA_MODEL overrides its path) and torch + transformers (the dev venv)."""
import json
import os
import subprocess

import pytest

from torl_client import Client, RPCError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GEMMA = os.environ.get("TORL_GEMMA_MODEL") or os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")


def _fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def gemma(torl_bin):
    """A daemon over stdio with Gemma 3 270M (f32 weights)."""
    if not os.path.exists(GEMMA):
        pytest.skip("Gemma 3 270M is not at %s (make setup installs it; TORL_GEMMA_MODEL overrides)" % GEMMA)
    with Client.spawn(torl=torl_bin, args=["--model", GEMMA]) as client:
        yield client


@pytest.fixture(scope="module")
def export(gemma, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("gemma3") / "export")
    result = gemma.request("model/export", {"path": folder})
    assert result["path"] == folder
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(result["files"])
    return folder


def _torl_generate(torl_bin, model, ids, new_tokens):
    """torl's f32 forward: the top-10 logits after `ids` and `new_tokens` greedy ids."""
    output = subprocess.run(
        [torl_bin, "generate", "--model", model, "--prompt-ids", ",".join(map(str, ids)), "--greedy",
         "--max-tokens", str(new_tokens), "--no-stop-at-eos", "--json"],
        check=True, capture_output=True, text=True, timeout=600).stdout
    report = json.loads(output)
    return {entry["id"]: entry["logit"] for entry in report["top_logits"]}, report["ids"]


PROBLEM = {"id": "sum", "problem": "What is $2 + 3$?", "answer": "5"}
PUBLISHED_PROMPT = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves it.\n"
                    "User: Please integrate natural language reasoning with programs to solve the problem above, and "
                    "put your final answer within \\boxed{}.\nWhat is $2 + 3$?\nAssistant:\n")
GREEDY = {"max_tokens": 8, "max_tool_calls": 0, "temperature": 0}


def test_solve_rollout_and_evaluate_use_the_published_prompt_by_default(gemma, torl_bin, tmp_path, schemas):
    status = gemma.status()
    schemas("status", "result", status)
    assert status["model"]["architecture"] == "gemma3"
    with pytest.raises(RPCError):  # the base model's GGUF has no chat template to fall back on
        gemma.request("rollout", dict(GREEDY, problems=[PROBLEM], group_size=1, template="chat"))
    ids = subprocess.run([torl_bin, "tokenize", "--model", GEMMA, PUBLISHED_PROMPT], check=True, capture_output=True,
                         text=True).stdout.split("\n")[0].split()
    expected = [2] + [int(token) for token in ids]  # BOS, then the plain text (no special tokens parsed)

    rollout = gemma.request("rollout", dict(GREEDY, problems=[PROBLEM], group_size=1))["trajectories"][0]
    assert rollout["token_ids"][:rollout["prompt_length"]] == expected

    solved = gemma.request("solve", dict(GREEDY, problem=PROBLEM["problem"]))
    assert solved["prompt_tokens"] == len(expected)
    assert solved["text"] == rollout["text"]

    output = str(tmp_path / "records.jsonl")
    gemma.request("evaluate", dict(GREEDY, problems=[PROBLEM], output=output))
    with open(output) as handle:
        record = json.loads(handle.readline())
    assert record["responses"][0]["text"] == rollout["text"]
    # The same greedy continuation from the published prompt's ids, outside the daemon.
    _, greedy = _torl_generate(torl_bin, GEMMA, expected, len(rollout["token_ids"]) - rollout["prompt_length"])
    assert rollout["token_ids"][rollout["prompt_length"]:] == greedy


def test_config_names_the_gemma3_text_model_and_its_attention_pattern(export):
    with open(os.path.join(export, "config.json")) as handle:
        config = json.load(handle)
    assert config["architectures"] == ["Gemma3ForCausalLM"]
    assert config["model_type"] == "gemma3_text"
    assert config["hidden_activation"] == "gelu_pytorch_tanh"
    assert config["sliding_window"] == 512 and config["rope_theta"] == 1e6 and config["rope_local_base_freq"] == 1e4
    assert config["query_pre_attn_scalar"] == 256 and config["head_dim"] == 256
    assert config["final_logit_softcapping"] is None and config["attn_logit_softcapping"] is None
    assert config["layer_types"] == ["full_attention" if (l + 1) % 6 == 0 else "sliding_attention" for l in range(18)]


def test_transformers_logits_match_torl(export, torl_bin):
    import torch
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32)
    model.eval()
    assert type(model).__name__ == "Gemma3ForCausalLM"
    worst = 0.0
    for prompt in _fixture("gemma3_270m_reference.json")["prompts"]:
        ids = prompt["prompt_ids"]
        top, greedy = _torl_generate(torl_bin, GEMMA, ids, 8)
        with torch.no_grad():
            # Teacher-forced on torl's greedy continuation: every position's argmax must be torl's next id.
            logits = model(torch.tensor([ids + greedy])).logits[0]
        last = logits[len(ids) - 1]
        for token, value in top.items():
            worst = max(worst, abs(float(last[token]) - value))
        assert int(torch.argmax(last)) == max(top, key=top.get)
        predicted = [int(torch.argmax(logits[len(ids) - 1 + i])) for i in range(len(greedy))]
        assert predicted == greedy, prompt["name"]
    print("transformers vs torl, largest top-10 last-logit difference over the oracle prompts: %g" % worst)
    assert worst <= 1e-3, "largest top-10 logit difference %g" % worst


def test_fast_tokenizer_gives_torl_ids(export):
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(export)
    assert tokenizer.is_fast
    cases = _fixture("gemma3_tokenizer_corpus.json")["cases"]
    assert len(cases) >= 200
    # The corpus ids are llama.cpp's, which torl's tokenizer reproduces (Gemma3TokenizerTests): BOS added and
    # special tokens written in the text parsed, as the fast tokenizer does by default.
    mismatches = [(case["text"], tokenizer(case["text"])["input_ids"], case["ids"]) for case in cases
                  if tokenizer(case["text"])["input_ids"] != case["ids"]]
    assert not mismatches, mismatches[:5]
    decoded = tokenizer.decode(cases[0]["ids"][1:])
    assert decoded == cases[0]["text"]


def test_torl_loads_the_export_back(export, torl_bin):
    prompt = _fixture("gemma3_270m_reference.json")["prompts"][1]["prompt_ids"]
    from_gguf, greedy_gguf = _torl_generate(torl_bin, GEMMA, prompt, 4)
    from_export, greedy_export = _torl_generate(torl_bin, export, prompt, 4)
    assert greedy_export == greedy_gguf
    assert from_export.keys() == from_gguf.keys()
    assert max(abs(from_export[t] - from_gguf[t]) for t in from_gguf) <= 1e-4
    text = "Hello  world\n\n<start_of_turn>user\n\\frac{1}{2} 日本語 🙂"
    ids = subprocess.run([torl_bin, "tokenize", "--model", export, "--special", text], check=True,
                         capture_output=True, text=True).stdout.split("\n")[0]
    gguf_ids = subprocess.run([torl_bin, "tokenize", "--model", GEMMA, "--special", text], check=True,
                              capture_output=True, text=True).stdout.split("\n")[0]
    assert ids == gguf_ids


def _tiny_gguf(path, architecture):
    """A GGUF with a 16-token SentencePiece vocabulary and only a token embedding."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, architecture)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<pad>", "<eos>", "<bos>", "<unk>"] + ["t%d" % i for i in range(4, 16)])
    writer.add_token_scores([-float(i) for i in range(16)])
    writer.add_token_types([3, 3, 3, 2] + [1] * 12)
    writer.add_bos_token_id(2)
    writer.add_tensor("token_embd.weight", np.zeros((16, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_bad_model_file_is_named_and_the_loaded_model_stays(gemma, tmp_path):
    before = gemma.request("solve", dict(GREEDY, problem=PROBLEM["problem"]))["text"]
    for name, architecture, key in [("unknown.gguf", "gemma9", "general.architecture"),
                                    ("incomplete.gguf", "gemma3", "gemma3.embedding_length")]:
        path = str(tmp_path / name)
        _tiny_gguf(path, architecture)
        with pytest.raises(RPCError) as error:
            gemma.request("model/load", {"path": path})
        assert error.value.code == -32021
        assert path in error.value.message and key in error.value.message, error.value.message
        model = gemma.status()["model"]
        assert model["path"] == GEMMA and model["architecture"] == "gemma3"
    assert gemma.request("solve", dict(GREEDY, problem=PROBLEM["problem"]))["text"] == before
