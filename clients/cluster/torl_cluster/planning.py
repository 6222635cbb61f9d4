"""How work is divided between nodes: whole groups (training) or whole problems (evaluation), in proportion to
each node's measured speed, as contiguous runs so merged results keep the original order."""
import math

# The daemon keeps the last 32 `rollout` results for `train_step` (RolloutStore): a node cannot train on more
# groups than that in one step.
STORED_ROLLOUTS_PER_NODE = 32


def split_by_load(count, weights, capacity=None):
    """Splits `count` items into len(weights) contiguous index lists, node i's share proportional to weights[i]
    (largest remainders, ties to the earlier node). `capacity` caps every share; more items than the nodes can hold
    is a ValueError naming the numbers."""
    if not weights:
        raise ValueError("no nodes to split %d items over" % count)
    if any(not (weight > 0 and math.isfinite(weight)) for weight in weights):
        raise ValueError("node weights must be finite and > 0, got %r" % (weights,))
    if capacity is not None and count > capacity * len(weights):
        raise ValueError("%d groups do not fit on %d nodes of at most %d each (the daemon keeps %d stored rollouts)"
                         % (count, len(weights), capacity, capacity))
    total = float(sum(weights))
    exact = [count * weight / total for weight in weights]
    shares = [int(math.floor(value)) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:count - sum(shares)]:
        shares[i] += 1
    if capacity is not None:
        # Move the excess of capped nodes to the others, fastest first.
        excess = sum(max(0, share - capacity) for share in shares)
        shares = [min(share, capacity) for share in shares]
        for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
            room = min(capacity - shares[i], excess)
            shares[i] += room
            excess -= room
    result, start = [], 0
    for share in shares:
        result.append(list(range(start, start + share)))
        start += share
    return result


class LoadEstimate:
    """Items per second of each node, from the work it finished (exponentially averaged). Until every node of a
    split has a measurement the split weighs nodes by their CPU count instead (rates and CPU counts are not in
    the same unit, so they are never mixed)."""

    def __init__(self, smoothing=0.5):
        self.smoothing = smoothing
        self._rates = {}

    def weights(self, node_keys, cpus):
        if all(key in self._rates for key in node_keys):
            return [self._rates[key] for key in node_keys]
        return [float(max(count, 1)) for count in cpus]

    def record(self, node_key, items, seconds):
        if items <= 0 or seconds <= 0:
            return
        rate = items / seconds
        if node_key in self._rates:
            rate = self.smoothing * rate + (1 - self.smoothing) * self._rates[node_key]
        self._rates[node_key] = rate

    def forget(self, node_key):
        """A restarted node starts over: its old speed says nothing about the new process."""
        self._rates.pop(node_key, None)
