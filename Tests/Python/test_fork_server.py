# Unit tests of the fork-server's pure parts: the pool's framing, exit statuses, the end-of-run report and the work
# dir wipe. Isolation and the run life cycle need the Swift pool and are covered by Tests/SandboxTests.
import json
import os
import struct

import pytest

import fork_server


def frame(message):
    body = json.dumps(message).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def test_send_writes_one_length_prefixed_frame_that_read_frame_reads_back(monkeypatch):
    read_end, write_end = os.pipe()
    monkeypatch.setattr(fork_server, "CONTROL_OUT", write_end)
    message = {"type": "done", "id": 7, "text": "é ✓"}
    fork_server.send(message)
    os.close(write_end)
    raw = os.read(read_end, 1 << 16)
    assert raw == frame(message)
    (length,) = struct.unpack(">I", raw[:4])
    assert length == len(raw) - 4
    read_again, write_again = os.pipe()
    os.write(write_again, raw)
    os.close(write_again)
    assert fork_server.read_frame(read_again) == message
    assert fork_server.read_frame(read_again) is None  # end of input between frames
    os.close(read_end)
    os.close(read_again)


def test_read_frame_reads_a_frame_arriving_in_pieces():
    read_end, write_end = os.pipe()
    raw = frame({"id": 1, "code": "print(1)"})
    pid = os.fork()
    if pid == 0:  # a writer that trickles the frame one byte at a time
        os.close(read_end)
        for byte in raw:
            os.write(write_end, bytes([byte]))
        os._exit(0)
    os.close(write_end)
    assert fork_server.read_frame(read_end) == {"id": 1, "code": "print(1)"}
    os.waitpid(pid, 0)
    os.close(read_end)


@pytest.mark.parametrize("cut", [2, 4, 10])
def test_read_frame_is_none_when_the_stream_ends_inside_a_frame(cut):
    read_end, write_end = os.pipe()
    os.write(write_end, frame({"id": 2, "code": "x = 1"})[:cut])
    os.close(write_end)
    assert fork_server.read_frame(read_end) is None
    os.close(read_end)


def test_exit_status_follows_python_sys_exit(capsys):
    assert fork_server.exit_status(None) == 0
    assert fork_server.exit_status(3) == 3
    assert fork_server.exit_status(256 + 7) == 7  # the shell keeps the low byte
    assert fork_server.exit_status(-1) == 255
    assert fork_server.exit_status("bad input") == 1
    assert capsys.readouterr().err == "bad input\n"


def test_end_report_of_an_exit_and_of_a_signal():
    pid = os.fork()
    if pid == 0:
        os._exit(5)
    _, status, usage = os.wait4(pid, 0)
    report = fork_server.end_report(status, usage)
    assert (report["exit_code"], report["signal"]) == (5, None)
    assert report["cpu_ms"] >= 0 and report["max_rss_kb"] > 0

    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), 9)
        os._exit(0)
    _, status, usage = os.wait4(pid, 0)
    report = fork_server.end_report(status, usage)
    assert (report["exit_code"], report["signal"]) == (None, 9)


def test_wipe_removes_everything_but_what_it_keeps(tmp_path):
    (tmp_path / "keep.txt").write_text("kept")
    (tmp_path / "out.txt").write_text("x")
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / "nested" / "deeper" / "file").write_text("y")
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "survivor").write_text("z")
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    fork_server.wipe(str(tmp_path), keep=(str(tmp_path / "keep.txt"),))
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]
    assert (outside / "survivor").read_text() == "z"  # a symlink is removed, never followed


def test_the_script_runs_as_python_c_with_its_main_guard():
    # The pool runs the embedded source with `python -c`, where __name__ is "__main__": the guard must be there.
    source = open(fork_server.__file__, encoding="utf-8").read()
    assert source.rstrip().endswith('if __name__ == "__main__":\n    main()')
