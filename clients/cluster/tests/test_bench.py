"""`torl-cluster bench`'s arithmetic: the step breakdown from metrics lines and the projection, against values
computed by hand."""
import pytest

from torl_cluster.bench import project, step_breakdown
from torl_cluster.cli import build_parser


def line(step, generation, update_wall, update, driver, all_reduce=None, size=None):
    return {"step_seconds": step, "generation_seconds": generation, "update_wall_seconds": update_wall,
            "update_seconds": update, "driver_seconds": driver, "all_reduce_seconds": all_reduce,
            "all_reduce_bytes": size}


def test_breakdown_skips_the_warm_up_step_and_averages_the_rest():
    lines = [line(99, 90, 9, 8, 0.5, 3.0, 400), line(10, 6, 3.5, 3, 0.5, 1.0, 400), line(12, 8, 3.5, 3, 0.5, 2.0, 400)]
    figures = step_breakdown(lines)
    assert figures["steps_measured"] == 2
    assert figures["step_seconds"] == 11 and figures["generation_seconds"] == 7 and figures["update_seconds"] == 3
    assert figures["all_reduce_seconds"] == 1.5 and figures["all_reduce_bytes"] == 400
    assert figures["all_reduce_gb_per_second"] == pytest.approx(400 / 1.5 / 1e9)
    assert figures["communication_and_driver_share"] == pytest.approx((1.5 + 0.5) / 11)


def test_a_single_node_has_no_all_reduce_and_one_step_is_measured_as_it_is():
    figures = step_breakdown([line(20, 15, 5, 4, 0.25)])
    assert figures["steps_measured"] == 1 and figures["all_reduce_seconds"] is None
    assert figures["all_reduce_gb_per_second"] is None
    assert figures["communication_and_driver_share"] == pytest.approx(0.25 / 20)
    with pytest.raises(ValueError):
        step_breakdown([])


def test_projection_by_hand():
    one = {"generation_seconds": 64.0, "update_seconds": 32.0, "driver_seconds": 0.5}
    # 8 machines, 540 MB gradient, 10 Gb/s: ring all-reduce 2*7/8 * 540e6 * 8 / 1e10 = 0.756 s.
    p = project(one, 540_000_000, 8, 10.0)
    assert p["rollout_seconds"] == 8.0 and p["update_seconds"] == 4.0
    assert p["all_reduce_seconds"] == pytest.approx(0.756)
    assert p["step_seconds"] == pytest.approx(8 + 4 + 0.756 + 0.5)
    assert p["scaling_efficiency"] == pytest.approx(96.5 / (8 * 13.256))
    assert p["all_reduce_and_driver_share"] == pytest.approx(1.256 / 13.256)
    # One machine: no all-reduce, efficiency 1.
    assert project(one, 540_000_000, 1, 10.0)["scaling_efficiency"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        project(one, 1, 0, 10.0)


def test_bench_options():
    options = build_parser().parse_args(["bench", "--nodes", "1,2", "--machines", "8,32,64", "--network-gbps", "25"])
    assert options.nodes == [1, 2] and options.machines == [8, 32, 64] and options.network_gbps == 25
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--nodes", "0,2"])
