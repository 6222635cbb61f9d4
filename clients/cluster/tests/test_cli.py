"""The command line without a cluster: options become exactly the wire fields the daemon's schemas accept (the
same hyper-parameters `torl train` sends), and bad option combinations are refused before anything starts."""
import pytest

from torl_cluster.cli import build_parser, check_train_options, evaluate_params, hyper_parameters, main
from torl_cluster.driver import eval_generation


@pytest.fixture(scope="module")
def validate(schemas):
    return lambda method, instance: schemas(method, "params", instance)


def train_options(*extra):
    return build_parser().parse_args(["train", "--local-nodes", "2", "--dataset", "x.jsonl", *extra])


def test_default_hyper_parameters_are_torl_trains(validate):
    fields = hyper_parameters(train_options())
    assert fields == {"learning_rate": 1e-6, "warmup_steps": 0, "min_lr_ratio": 0.0, "eps_low": 0.2, "eps_high": 0.2,
                      "clip_ratio_c": 3.0, "dual_clip": True, "kl_coef": 0.0, "entropy_coef": 0.0, "advantage": "std",
                      "aggregation": "token_mean", "micro_batch": 4096, "max_grad_norm": 1.0, "weight_decay": 0.0}
    validate("train_step", dict(fields, rollout_ids=["r1", "r2"]))


def test_every_hyper_parameter_option(validate):
    options = train_options("--lr", "3e-5", "--warmup-steps", "2", "--cosine", "--steps", "9", "--min-lr-ratio", "0.1",
                            "--eps-low", "0.1", "--eps-high", "0.28", "--no-dual-clip", "--old-logprobs", "recompute",
                            "--tis-cap", "2", "--kl", "0.01", "--entropy", "0.001", "--aggregation", "dr_grpo",
                            "--advantage", "dr_grpo", "--max-grad-norm", "0.5", "--weight-decay", "0.1",
                            "--micro-batch", "1024", "--activations", "recomputePerLayer")
    check_train_options(options)
    fields = hyper_parameters(options)
    assert fields == {"learning_rate": 3e-5, "warmup_steps": 2, "cosine_total_steps": 9, "min_lr_ratio": 0.1,
                      "eps_low": 0.1, "eps_high": 0.28, "dual_clip": False, "old_logprobs": "recompute",
                      "tis_cap": 2.0, "kl_coef": 0.01, "entropy_coef": 0.001, "advantage": "dr_grpo",
                      "aggregation": "dr_grpo", "micro_batch": 1024, "activations": "recomputePerLayer",
                      "max_grad_norm": 0.5, "weight_decay": 0.1}
    validate("train_step", dict(fields, rollout_ids=["r1"]))


def test_rollout_and_evaluate_params_match_their_schemas(validate):
    from torl_cluster.cli import _prompt_fields
    options = train_options("--template", "chat", "--instruction", "Use Python.", "--accept-unboxed-answers",
                            "--require-evaluated-answers", "--max-tool-calls", "2")
    generation = dict(_prompt_fields(options), max_tokens=options.max_tokens, temperature=options.temperature)
    validate("rollout", dict(generation, problems=[{"id": "a", "problem": "1+1?", "answer": "2"}], group_size=8,
                             seed=2 ** 63 - 1))
    validate("evaluate", dict(eval_generation(generation), problems=[{"id": "a", "problem": "1+1?", "answer": "2"}]))
    evaluate = build_parser().parse_args(["eval", "--address", "auto", "--samples", "4", "--top-p", "0.9",
                                          "--trigger", "output_marker"])
    params = evaluate_params(evaluate)
    assert params["temperature"] == 1.0 and params["samples"] == 4
    validate("evaluate", dict(params, problems=[{"id": "a", "problem": "1+1?", "answer": "2"}], output="/tmp/x.jsonl"))
    assert evaluate_params(build_parser().parse_args(["eval", "--address", "auto"]))["temperature"] == 0.0


@pytest.mark.parametrize("extra, message", [
    (["--group-size", "1"], "--group-size >= 2"),
    (["--temperature", "0"], "--temperature must be > 0"),
    (["--cosine", "--warmup-steps", "10", "--steps", "10"], "--warmup-steps (10) must be < --steps (10)"),
    (["--eval-every", "2"], "--eval-every needs --eval-dataset"),
    (["--eval-limit", "3"], "only apply to the evaluations of --eval-every"),
    (["--no-dual-clip", "--clip-ratio-c", "4"], "cannot be given with --no-dual-clip"),
])
def test_bad_train_options_are_refused_before_starting(extra, message, capsys):
    assert main(["train", "--local-nodes", "2", "--dataset", "x.jsonl", *extra]) == 1
    assert message in capsys.readouterr().err


def test_a_missing_dataset_is_named(tmp_path, capsys):
    missing = str(tmp_path / "none.jsonl")
    assert main(["eval", "--local-nodes", "1", "--dataset", missing]) == 1
    assert "cannot read problem set %s" % missing in capsys.readouterr().err


def test_bad_dataset_line_is_named(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"problem": "1+1?", "answer": "2"}\n{"problem": "no answer"}\n')
    assert main(["eval", "--local-nodes", "1", "--dataset", str(path)]) == 1
    assert "bad.jsonl:2: needs `problem` and `answer`" in capsys.readouterr().err


def test_where_to_run_is_required():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--dataset", "x.jsonl"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--dataset", "x.jsonl", "--address", "auto", "--local-nodes", "2"])


def test_a_bad_activation_policy_is_refused_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit:
        train_options("--activations", "recompute")
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert "--activations" in error and "keepAll" in error and "recomputePerLayer" in error
