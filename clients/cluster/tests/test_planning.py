"""Seeds, problem choice and the split of work across nodes: pure functions, checked against hand-computed values."""
import pytest

from torl_cluster.planning import LoadEstimate, split_by_load
from torl_cluster.seeds import MASK64, group_seed, problem_order, splitmix64, step_problems


def test_splitmix64_reference_values():
    # splitmix64 from state 0: the first outputs of the reference generator (Vigna), 0x9E37... added first.
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    assert splitmix64(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_group_seed_is_keyed_on_seed_step_and_prompt():
    assert group_seed(0, 0, 0) == splitmix64(splitmix64(splitmix64(0))) >> 1
    seeds = {group_seed(base, step, prompt) for base in range(3) for step in range(20) for prompt in range(16)}
    assert len(seeds) == 3 * 20 * 16, "no two (seed, step, prompt) keys share a seed"
    assert all(0 <= s < 2 ** 63 for s in seeds), "63 bits: an exact JSON integer"
    assert group_seed(7, 3, 5) == group_seed(7, 3, 5)
    assert group_seed(7, 3, 5) != group_seed(7, 5, 3)
    with pytest.raises(ValueError):
        group_seed(0, -1, 0)
    assert group_seed(MASK64, 0, 0) >= 0


def test_problem_order_and_step_problems_wrap_around():
    problems = [{"id": str(i)} for i in range(5)]
    order = problem_order(5, seed=3)
    assert sorted(order) == list(range(5))
    assert order == problem_order(5, seed=3)
    steps = [step_problems(s, problems, order, batch=3) for s in range(3)]
    flat = [p["id"] for step in steps for p in step]
    assert flat == [str(order[i % 5]) for i in range(9)]


def test_split_by_load_proportional_contiguous():
    assert split_by_load(8, [1, 1]) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert split_by_load(7, [1, 1]) == [[0, 1, 2, 3], [4, 5, 6]]  # tie of remainders: the earlier node
    assert split_by_load(10, [3, 1, 1]) == [[0, 1, 2, 3, 4, 5], [6, 7], [8, 9]]
    # 7 * (0.5, 0.25, 0.25) = 3.5, 1.75, 1.75: floors 3, 1, 1, the two largest remainders (0.75) get the rest
    assert [len(s) for s in split_by_load(7, [2, 1, 1])] == [3, 2, 2]
    assert split_by_load(1, [1, 1, 1]) == [[0], [], []]
    assert split_by_load(0, [1]) == [[]]


def test_split_by_load_capacity():
    assert [len(s) for s in split_by_load(10, [4, 1], capacity=6)] == [6, 4]
    with pytest.raises(ValueError, match="do not fit"):
        split_by_load(70, [1, 1], capacity=32)


@pytest.mark.parametrize("weights", [[], [1, 0], [1, float("nan")], [-1]])
def test_split_by_load_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        split_by_load(4, weights)


def test_load_estimate_uses_cpus_until_every_node_is_measured():
    loads = LoadEstimate(smoothing=0.5)
    assert loads.weights([0, 1], [2, 4]) == [2.0, 4.0]
    loads.record(0, items=4, seconds=2)  # 2 groups/s
    assert loads.weights([0, 1], [2, 4]) == [2.0, 4.0], "units are never mixed"
    loads.record(1, items=3, seconds=3)  # 1 group/s
    assert loads.weights([0, 1], [2, 4]) == [2.0, 1.0]
    loads.record(1, items=6, seconds=2)  # 3 groups/s, averaged with 1
    assert loads.weights([0, 1], [2, 4]) == [2.0, 2.0]
    loads.forget(1)
    assert loads.weights([0, 1], [2, 4]) == [2.0, 4.0]
