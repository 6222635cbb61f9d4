"""Which problems a step trains on and the sampling seed of each of its groups: pure functions of the run's seed,
so any node, any retry and a resumed driver produce the same step.

The daemon's `rollout` gives sample i of the request's problem g the random stream (seed, g*G + i)
(`RolloutEngine`: stream offset g*G). The driver sends one problem per `rollout` request, so a group's samples
draw streams (group_seed, 0..G-1) whichever node runs it, alone or beside other requests (the decoder is
batch-invariant), and its trajectories are identical."""
import random

MASK64 = (1 << 64) - 1


def splitmix64(value):
    """One splitmix64 output for state `value` (a bijection of 64-bit words with good avalanche)."""
    z = (value + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def group_seed(base_seed, step, prompt_index):
    """The `rollout` seed of the group of prompt `prompt_index` (0-based within the step) of step `step`
    (0-based): keyed on all three, 63 bits so it stays an exact JSON integer for any client."""
    for part in (base_seed, step, prompt_index):
        if part < 0:
            raise ValueError("seed, step and prompt index must be >= 0, got %d" % part)
    mixed = splitmix64(base_seed & MASK64)
    mixed = splitmix64(mixed ^ (step & MASK64))
    mixed = splitmix64(mixed ^ (prompt_index & MASK64))
    return mixed >> 1


def problem_order(count, seed):
    """One fixed shuffle of the training set's indices by the run's seed."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def step_problems(step, problems, order, batch):
    """The problems of step `step`: the shuffle taken `batch` at a time, wrapping around (as `torl train`)."""
    if not problems:
        raise ValueError("no training problems")
    return [problems[order[(step * batch + index) % len(order)]] for index in range(batch)]
