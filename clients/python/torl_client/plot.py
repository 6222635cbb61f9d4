"""Training curves to PNG. matplotlib is optional: this module needs it, the client does not."""
import json
import os
from typing import Any, Dict, Iterable, List, Sequence, Union

Source = Union[str, bytes, "os.PathLike[str]", Iterable[Dict[str, Any]]]


def load_metrics(source: Source) -> List[Dict[str, Any]]:
    """`source`: a list of metric dicts (as returned by train_step) or the path of a metrics JSONL file."""
    if isinstance(source, (str, bytes, os.PathLike)):
        with open(source, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    return list(source)


def plot_metrics(source: Source, keys: Sequence[str] = ("reward_mean", "code_ratio", "accuracy"),
                 path: str = "metrics.png", title: str = "torl training") -> str:
    """Plots each key against the step (the `step` field, else the row index) in its own panel; returns path."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plot_metrics needs matplotlib (pip install matplotlib)") from error
    rows = load_metrics(source)
    present = [key for key in keys if any(key in row for row in rows)]
    if not rows or not present:
        raise ValueError("no rows hold any of %s" % (list(keys),))
    figure, axes = plt.subplots(len(present), 1, figsize=(7, 2.4 * len(present)), sharex=True, squeeze=False)
    for axis, key in zip(axes[:, 0], present):
        points = [(row.get("step", index), row[key]) for index, row in enumerate(rows) if row.get(key) is not None]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3)
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
