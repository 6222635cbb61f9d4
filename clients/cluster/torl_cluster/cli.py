"""`torl-cluster`: `train`, `eval` and `bench` of torl on a Ray cluster (`--address`) or on simulated local nodes
(`--local-nodes N`). Every run is bounded (`--time-limit`) and shuts down what it started, whatever happens."""
import argparse
import json
import os
import signal
import sys
import threading
import time
import _thread

import ray

from .bench import run_bench
from .cluster import ClusterError, NodePool, RaySession
from .driver import ClusterTrainer, TrainPlan, eval_generation
from .evaluation import evaluate_on_nodes
from .problems import ProblemSetError, load_problems, parse_jsonl_text

DEFAULT_MODEL_ENV = "TORL_MODEL"


class Progress:
    """One line on stderr redrawn in place when stderr is a terminal; log lines go above it."""

    def __init__(self, enabled=None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.shown = False
        self.lock = threading.Lock()

    def update(self, text):
        if self.enabled:
            with self.lock:
                sys.stderr.write("\r\033[K" + text)
                sys.stderr.flush()
                self.shown = True

    def log(self, line):
        with self.lock:
            if self.shown:
                sys.stderr.write("\r\033[K")
                self.shown = False
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


def _cluster_arguments(parser):
    group = parser.add_argument_group("cluster")
    where = group.add_mutually_exclusive_group(required=True)
    where.add_argument("--address", help="an existing Ray cluster (`ray start --head` printed it), or `auto`")
    where.add_argument("--local-nodes", type=int, help="start a local Ray cluster of N simulated nodes on this machine")
    group.add_argument("--nodes", type=int, help="node actors to start (default: one per alive Ray node)")
    group.add_argument("--cpus-per-node", type=int,
                       help="CPUs of each node's placement bundle (default: the smallest node's count; with "
                            "--local-nodes: this machine's cores divided by N)")
    group.add_argument("--torl-bin", help="torl binary on every node (default: $TORL_BIN, else torl on PATH)")
    group.add_argument("--python", help="the sandbox's Python on every node (default: the daemon's: $TORL_PYTHON)")
    group.add_argument("--max-restarts", type=int, default=3, help="restarts of a node actor (with a fresh daemon)")
    group.add_argument("--call-timeout", type=float, help="seconds a node may take for one call before it counts as lost")
    group.add_argument("--time-limit", type=float, help="stop the whole run (and everything it started) after this many seconds")
    parser.add_argument("--model", help="GGUF file or Hugging Face folder, the same path on every node "
                                        "(default: each node's $TORL_MODEL)")
    parser.add_argument("--weights", choices=["f32", "bf16", "int8"], help="inference weight precision (default: f32)")
    parser.add_argument("--pool-size", type=int, help="sandbox workers per daemon (default: the node's CPUs, at least 2)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _prompt_arguments(parser):
    parser.add_argument("--template", choices=["torl", "chat"], default="torl", help="prompt template")
    parser.add_argument("--instruction", help="instruction placed before the problem (default: the published one)")
    parser.add_argument("--accept-unboxed-answers", action="store_true",
                        help='also accept answers written as "the answer is X" when no \\boxed{} is present')
    parser.add_argument("--require-evaluated-answers", action="store_true",
                        help="when the reference is a number, count only a number as written")
    parser.add_argument("--max-tool-calls", type=int, default=1, help="tool calls per response (C); 0 disables the tool")


def _prompt_fields(options):
    fields = {"template": options.template, "max_tool_calls": options.max_tool_calls,
              "accept_unboxed_answers": options.accept_unboxed_answers,
              "require_evaluated_answers": options.require_evaluated_answers}
    if options.instruction is not None:
        fields["instruction"] = options.instruction
    return fields


def build_parser():
    parser = argparse.ArgumentParser(prog="torl-cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="GRPO with the rollouts and the update spread over the nodes")
    _cluster_arguments(train)
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", help="JSONL training set (`problem`, `answer` per line)")
    data.add_argument("--synthetic", action="store_true", help="train on generated arithmetic (`torl synthetic`)")
    train.add_argument("--difficulty", type=int, default=3, help="synthetic difficulty 1...5")
    train.add_argument("--count", type=int, default=256, help="synthetic problems")
    train.add_argument("--families", help="synthetic families: product, sequence_sum, modular_power")
    train.add_argument("--steps", type=int, default=10, help="updates in total, a resumed checkpoint's included")
    train.add_argument("--batch", type=int, default=8, help="prompts per step")
    train.add_argument("--group-size", type=int, default=8, help="responses per prompt (G)")
    train.add_argument("--lr", type=float, default=1e-6, help="peak learning rate")
    train.add_argument("--warmup-steps", type=int, default=0)
    train.add_argument("--cosine", action="store_true", help="cosine decay after warmup to --min-lr-ratio at the last step")
    train.add_argument("--min-lr-ratio", type=float, default=0.0)
    train.add_argument("--eps-low", type=float, default=0.2)
    train.add_argument("--eps-high", type=float, default=0.2)
    train.add_argument("--clip-ratio-c", type=float, default=3.0, help="dual-clip bound c")
    train.add_argument("--no-dual-clip", action="store_true")
    train.add_argument("--old-logprobs", choices=["rollout", "recompute"])
    train.add_argument("--tis-cap", type=float, help="truncated importance sampling cap (off when absent)")
    train.add_argument("--kl", type=float, default=0.0, help="KL coefficient to the initial policy")
    train.add_argument("--entropy", type=float, default=0.0, help="entropy bonus coefficient")
    train.add_argument("--aggregation", choices=["token_mean", "seq_mean_token_mean", "dr_grpo"], default="token_mean")
    train.add_argument("--advantage", choices=["std", "dr_grpo"], default="std")
    train.add_argument("--max-grad-norm", type=float, default=1.0)
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--micro-batch", type=int, default=4096, help="tokens per micro-batch")
    train.add_argument("--activations", choices=("keepAll", "recomputePerLayer"),
                       help="what the forward pass keeps for the backward pass (daemon default: keepAll); "
                            "recomputePerLayer keeps each layer's input only: far less memory for long responses")
    _prompt_arguments(train)
    train.add_argument("--max-tokens", type=int, default=1024, help="response budget, tool output included")
    train.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the rollouts (> 0)")
    train.add_argument("--seed", type=int, default=0, help="seed of the problem order and of every group's samples")
    train.add_argument("--eval-every", type=int, default=0, help="evaluate greedily every N steps (0: never)")
    train.add_argument("--eval-dataset", help="JSONL evaluation set")
    train.add_argument("--eval-limit", type=int, help="evaluate on the first N problems")
    train.add_argument("--checkpoint-every", type=int, default=0, help="save a checkpoint every N steps (0: never)")
    train.add_argument("--checkpoint-dir", default="checkpoints",
                       help="folder of step-N.safetensors (and recovery.safetensors); every node must reach it")
    train.add_argument("--resume", help="continue from this checkpoint, or from the newest step-N in this folder")
    train.add_argument("--metrics", help="append one JSON line of metrics per step to this file")
    train.add_argument("--export", help="write the trained model as a Hugging Face folder here at the end")
    train.add_argument("--tensorboard", help="also write the step metrics as TensorBoard scalars to this folder")
    train.add_argument("--max-step-retries", type=int, default=3, help="update attempts after the first, per step")
    train.add_argument("--join-timeout", type=float, default=60.0, help="seconds the ranks wait for each other to form a group")

    evaluate = commands.add_parser("eval", help="a benchmark split over the nodes, figures over the merged records")
    _cluster_arguments(evaluate)
    evaluate.add_argument("--dataset", default="data/math500.jsonl", help="JSONL with `problem` and `answer` per line")
    evaluate.add_argument("--limit", type=int, help="only the first N problems")
    evaluate.add_argument("--samples", type=int, default=1, help="samples per problem (k)")
    _prompt_arguments(evaluate)
    evaluate.add_argument("--trigger", choices=["block_close", "output_marker"], default="block_close")
    evaluate.add_argument("--max-tokens", type=int, default=3072)
    evaluate.add_argument("--max-prompt-tokens", type=int, default=400)
    evaluate.add_argument("--temperature", type=float, help="default: 0 (greedy) for one sample, 1 for several")
    evaluate.add_argument("--top-p", type=float, default=1.0)
    evaluate.add_argument("--top-k", type=int, default=0)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--output", help="write the merged per-problem records (JSONL) here")
    evaluate.add_argument("--batch", type=int, default=64, help="sequences each daemon decodes at once")
    bench = commands.add_parser("bench", help="a GRPO step's time split into rollouts, all-reduce, update and driver "
                                              "on 1, 2, 3 ... local nodes, and a projection to more machines (JSON)")
    bench.add_argument("--nodes", type=_counts, default=[1, 2, 3], help="local node counts to measure (default 1,2,3)")
    bench.add_argument("--machines", type=_counts, default=[8, 32], help="machine counts to project (default 8,32)")
    bench.add_argument("--network-gbps", type=float, default=10.0,
                       help="link bandwidth of the projected machines, gigabits/s (default 10)")
    bench.add_argument("--steps", type=int, default=3, help="steps per run; the first warms up (default 3)")
    bench.add_argument("--batch", type=int, default=8, help="prompts per step (default 8)")
    bench.add_argument("--group-size", type=int, default=8, help="responses per prompt (default 8)")
    bench.add_argument("--max-tokens", type=int, default=128, help="response budget (default 128)")
    bench.add_argument("--max-tool-calls", type=int, default=1)
    bench.add_argument("--difficulty", type=int, default=1, help="synthetic product problems of this difficulty")
    bench.add_argument("--lr", type=float, default=1e-6)
    bench.add_argument("--entropy", type=float, default=1e-3,
                       help="entropy bonus (default 1e-3): every step then has a gradient and runs its forward and "
                            "backward passes, where a step whose rewards are all equal would skip them")
    bench.add_argument("--model", help="default: $TORL_MODEL")
    bench.add_argument("--torl-bin", help="default: $TORL_BIN, else torl on PATH")
    bench.add_argument("--time-limit", type=float, help="seconds each run may take")
    return parser


def _counts(text):
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated counts, got %r" % text) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("counts must be >= 1, got %r" % text)
    return counts


def check_train_options(options):
    if options.steps < 1 or options.batch < 1 or options.group_size < 2:
        raise ValueError("--steps and --batch must be >= 1, --group-size >= 2")
    if not options.temperature > 0:
        raise ValueError("--temperature must be > 0: training needs sampled rollouts")
    if options.warmup_steps < 0:
        raise ValueError("--warmup-steps must be >= 0")
    if options.cosine and options.warmup_steps >= options.steps:
        raise ValueError("--cosine decays from the end of warmup to --steps, so --warmup-steps (%d) must be < --steps (%d)"
                         % (options.warmup_steps, options.steps))
    if options.eval_every < 0 or options.checkpoint_every < 0:
        raise ValueError("--eval-every and --checkpoint-every must be >= 0")
    if options.eval_every > 0 and not options.eval_dataset:
        raise ValueError("--eval-every needs --eval-dataset")
    if options.eval_every == 0 and (options.eval_dataset or options.eval_limit):
        raise ValueError("--eval-dataset and --eval-limit only apply to the evaluations of --eval-every N")
    if options.max_tokens < 1 or options.max_tool_calls < 0:
        raise ValueError("--max-tokens must be >= 1, --max-tool-calls >= 0")
    if options.no_dual_clip and options.clip_ratio_c != 3.0:
        raise ValueError("--clip-ratio-c cannot be given with --no-dual-clip")


def hyper_parameters(options):
    """The `train_step` hyper-parameter fields of the command line, as `torl train` sends them."""
    fields = {"learning_rate": options.lr, "warmup_steps": options.warmup_steps,
              "cosine_total_steps": options.steps if options.cosine else None, "min_lr_ratio": options.min_lr_ratio,
              "eps_low": options.eps_low, "eps_high": options.eps_high,
              "clip_ratio_c": None if options.no_dual_clip else options.clip_ratio_c,
              "dual_clip": not options.no_dual_clip, "old_logprobs": options.old_logprobs, "tis_cap": options.tis_cap,
              "kl_coef": options.kl, "entropy_coef": options.entropy, "advantage": options.advantage,
              "aggregation": options.aggregation, "micro_batch": options.micro_batch,
              "activations": options.activations, "max_grad_norm": options.max_grad_norm,
              "weight_decay": options.weight_decay}
    return {key: value for key, value in fields.items() if value is not None}


def evaluate_params(options):
    temperature = options.temperature if options.temperature is not None else (0.0 if options.samples == 1 else 1.0)
    return dict(_prompt_fields(options), samples=options.samples, trigger=options.trigger,
                max_tokens=options.max_tokens, max_prompt_tokens=options.max_prompt_tokens, temperature=temperature,
                top_p=options.top_p, top_k=options.top_k, seed=options.seed, batch=options.batch)


def _absolute(path):
    return os.path.abspath(path) if path else path


class TimeLimit:
    """Interrupts the main thread after `seconds` (its `finally` blocks then shut the cluster down)."""

    def __init__(self, seconds):
        self.expired = False
        self._timer = None
        if seconds:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self):
        self.expired = True
        _thread.interrupt_main()

    def cancel(self):
        if self._timer:
            self._timer.cancel()


def run_on_cluster(options, work, log):
    """Starts Ray and the node pool, runs `work(pool)`, and always shuts both down."""
    # The time limit and SIGTERM stop the run by interrupting the main thread, which Python does only while it
    # handles SIGINT itself: a process started in the background of a non-interactive shell (a CI script's `cmd &`)
    # inherits SIGINT ignored, and the interrupt would then do nothing.
    previous_interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    limit = TimeLimit(options.time_limit)
    previous = signal.signal(signal.SIGTERM, lambda *_: _thread.interrupt_main())
    session = pool = None
    try:
        session = RaySession(address=options.address, local_nodes=options.local_nodes,
                             cpus_per_node=options.cpus_per_node)
        pool = NodePool(count=options.nodes or options.local_nodes, cpus_per_node=options.cpus_per_node,
                        model=_absolute(options.model), weights=options.weights, pool_size=options.pool_size,
                        torl_bin=_absolute(options.torl_bin), python=_absolute(options.python),
                        max_restarts=options.max_restarts)
        log("%d nodes: %s" % (len(pool.nodes), ", ".join("%s cpus %d" % (n, n.cpus) for n in pool.nodes)))
        return work(pool)
    except KeyboardInterrupt:
        if limit.expired:
            raise ClusterError("stopped: --time-limit of %s s reached" % options.time_limit) from None
        raise
    finally:
        limit.cancel()
        if pool is not None:
            pool.shutdown()
        if session is not None:
            session.close()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_interrupt)


def command_train(options, progress):
    check_train_options(options)
    generation = dict(_prompt_fields(options), max_tokens=options.max_tokens, temperature=options.temperature)
    eval_problems = load_problems(options.eval_dataset, options.eval_limit) if options.eval_dataset else None
    dataset = load_problems(options.dataset) if options.dataset else None
    tensorboard = None
    if options.tensorboard:
        from .tensorboard import ScalarWriter
        tensorboard = ScalarWriter(options.tensorboard)

    def work(pool):
        problems = dataset
        if problems is None:
            arguments = ["--count", str(options.count), "--difficulty", str(options.difficulty),
                         "--seed", str(options.seed)]
            if options.families:
                arguments += ["--families", options.families]
            problems = parse_jsonl_text(ray.get(pool.nodes[0].actor.synthetic.remote(arguments)), "torl synthetic")
        plan = TrainPlan(problems=problems, steps=options.steps, batch=options.batch, group_size=options.group_size,
                         seed=options.seed, hyper_parameters=hyper_parameters(options), generation=generation,
                         checkpoint_every=options.checkpoint_every, checkpoint_dir=options.checkpoint_dir,
                         resume=options.resume, metrics_path=options.metrics, export=options.export,
                         eval_every=options.eval_every, eval_problems=eval_problems,
                         eval_generation=eval_generation(generation), max_step_retries=options.max_step_retries,
                         join_timeout=options.join_timeout, call_timeout=options.call_timeout)
        sinks = [tensorboard] if tensorboard else []
        return ClusterTrainer(pool, plan, log=progress.log, progress=progress, metrics_sinks=sinks).run()

    try:
        summary = run_on_cluster(options, work, progress.log)
    finally:
        if tensorboard:
            tensorboard.close()
    if options.json:
        print(json.dumps(summary, sort_keys=True))
    return 0


def command_eval(options, progress):
    if options.samples < 1 or options.batch < 1 or options.max_tokens < 1 or options.max_prompt_tokens < 1:
        raise ValueError("--samples, --batch, --max-tokens and --max-prompt-tokens must be >= 1")
    if options.limit is not None and options.limit < 1:
        raise ValueError("--limit must be >= 1")
    problems = load_problems(options.dataset, options.limit)
    params = evaluate_params(options)

    def work(pool):
        started = time.time()
        records, metrics, facts = evaluate_on_nodes(pool, problems, params, options.samples,
                                                    timeout=options.call_timeout, log=progress.log)
        return records, metrics, facts, time.time() - started

    records, metrics, facts, seconds = run_on_cluster(options, work, progress.log)
    if options.output:
        with open(options.output, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, sort_keys=True) + "\n")
    metrics = dict(metrics, elapsed_seconds=seconds, nodes=facts["nodes"], rerun_problems=facts["rerun_problems"],
                   sampled_tokens_per_second=(metrics.get("sampled_tokens") or 0) / max(seconds, 1e-9))
    if options.json:
        print(json.dumps(metrics, sort_keys=True))
    else:
        print(options.dataset)
        for key in sorted(metrics):
            value = metrics[key]
            text = "-" if value is None else ("%.0f" % value if float(value).is_integer() else "%.4f" % value)
            print("  %-28s %s" % (key, text))
        if options.output:
            print("records: %s" % options.output)
    return 0


def command_bench(options, progress):
    if options.steps < 1 or options.batch < 1 or options.group_size < 2 or options.max_tokens < 1:
        raise ValueError("--steps, --batch and --max-tokens must be >= 1 and --group-size >= 2")
    if options.network_gbps <= 0:
        raise ValueError("--network-gbps must be > 0")
    report = run_bench(options, lambda argv: main(argv))
    print(json.dumps(report, sort_keys=True, indent=1))
    return 0


def main(argv=None):
    options = build_parser().parse_args(argv)
    progress = Progress()
    try:
        if options.command == "train":
            return command_train(options, progress)
        if options.command == "bench":
            return command_bench(options, progress)
        return command_eval(options, progress)
    except (ClusterError, ValueError, ProblemSetError, FileNotFoundError) as error:
        progress.log("torl-cluster %s: error: %s" % (options.command, error))
        return 1


if __name__ == "__main__":
    sys.exit(main())
