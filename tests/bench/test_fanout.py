"""The fan-out benchmark runs correctly at a tiny size: nothing lost, its JSON line parses,
a stalled member is dropped while the others get everything, and notebook 6 runs top to bottom.
No speed is asserted here: speed targets live in the benchmark's own output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from chatkit import Room, bench
from tests.helpers import ROOT

NOTEBOOK = ROOT / "notebooks" / "06-how-many-students.ipynb"

FIGURES = {"deliveries_per_s", "latency_ms", "server_cpu_ms_per_1000", "server_cpu_share",
           "client_cpu_share", "client_cpu_us_per_delivery", "server_peak_mib", "expected",
           "received", "lost", "errors"}


NODE = shutil.which("node") is not None


@pytest.mark.timeout(60)
def test_every_kind_delivers_every_chat_to_browser_like_clients_and_negotiates_its_policy():
    kinds = (("seed",) if NODE else ()) + ("floor", "chatkit", "live", "shared", "deflate")
    result = bench.run_size(5, messages=20, rounds=1, kinds=kinds, progress=None, timeout=20)
    assert result["client"] == "browser"
    for kind in kinds:
        figures = result[kind]
        assert FIGURES <= figures.keys()
        assert figures["errors"] == []
        assert figures["expected"] == 5 * 20
        assert figures["received"] == figures["expected"]
        assert figures["lost"] == 0
        assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["max"]
        assert figures["server_cpu_ms_per_1000"] > 0
        assert figures["client_cpu_us_per_delivery"] >= 0
        assert figures["idle_kib_per_member"] is not None
    # the browsers' offer is declined by the original and by chatkit's default, as Node's ws does
    for kind in ("seed", "floor", "chatkit", "live"):
        assert result.get(kind, {"negotiated": ""})["negotiated"] == ""
    assert "server_no_context_takeover" in result["shared"]["negotiated"]
    assert result["deflate"]["negotiated"].startswith("permessage-deflate")
    assert "server_no_context_takeover" not in result["deflate"]["negotiated"]
    # per-connection deflate (with its context) sends the fewest bytes
    assert result["deflate"]["wire_bytes_per_delivery"] < result["chatkit"]["wire_bytes_per_delivery"]
    assert result["baseline"] == ("seed" if NODE else "floor")
    assert {"rate", "cpu"} <= result["ratios"]["chatkit"].keys()
    assert {"deliveries_per_s", "server_cpu_per_delivery", "live_vs_serve"} <= result["ratio"].keys()


def test_several_senders_at_once_each_get_every_chat_to_every_member_in_their_order():
    # W3 in small: 3 of 6 members send, 2 chats in flight each; 31 chats (not a multiple of 3)
    kinds = (("seed",) if NODE else ()) + ("chatkit",)
    result = bench.run_size(6, messages=31, rounds=1, kinds=kinds, senders=3, window=2,
                            progress=None, timeout=20)
    assert result["senders"] == 3
    for kind in kinds:
        assert result[kind]["errors"] == []
        assert result[kind]["received"] == result[kind]["expected"] == 6 * 31
        assert result[kind]["lost"] == 0


def test_workloads_plot_draws_rate_cpu_and_latency_for_each_workload(tmp_path):
    runs = {name: bench.run(sizes=[4], messages=12, rounds=1, kinds=("floor", "chatkit"),
                            window=window, senders=senders, stall_size=0, overhead=False,
                            progress=None, timeout=20)
            for name, window, senders in (("one at a time", 1, 1), ("2 senders", 2, 2))}
    figure = bench.plot_workloads(runs, str(tmp_path / "workloads.png"))
    rate, cpu, latency = figure.axes
    assert [t.get_text() for t in latency.get_xticklabels()] == ["one at a time", "2 senders"]
    assert len(latency.patches) == 4  # a p50 bar per server and workload
    assert "floor" in rate.get_title() and (tmp_path / "workloads.png").stat().st_size > 10_000


def test_more_senders_than_members_is_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"senders must be 1 to the room's size \(2\), not 3"):
        bench.run_size(2, messages=5, rounds=1, kinds=("floor",), senders=3, progress=None,
                       timeout=10)


def test_lean_clients_offer_nothing_and_get_everything():
    result = bench.run_size(4, messages=20, rounds=1, kinds=("floor", "shared"), client="lean",
                            progress=None, timeout=20)
    for kind in ("floor", "shared"):
        assert result[kind]["lost"] == 0 and result[kind]["errors"] == []
        assert result[kind]["negotiated"] == ""  # no offer, no deflate, whatever the policy


def test_cli_prints_a_table_and_a_json_line_and_exits_0_when_nothing_is_lost(tmp_path):
    plot = tmp_path / "fanout.png"
    completed = subprocess.run(
        [sys.executable, "-m", "chatkit.bench", "--sizes", "3", "6", "--messages", "20",
         "--rounds", "2", "--kinds", "floor", "chatkit", "--stall-size", "4",
         "--stall-messages", "2500", "--plot", str(plot), "--quiet"],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert "rate_limit=None" in completed.stdout  # the output says the limit is off
    report = json.loads(lines[-1])
    assert report["bench"] == "fanout"
    assert report["lost"] == 0
    assert [entry["size"] for entry in report["sizes"]] == [3, 6]
    for entry in report["sizes"]:
        assert entry["floor"]["rounds"] == entry["chatkit"]["rounds"] == 2
        assert entry["chatkit"]["received"] == 2 * 20 * entry["size"]
        assert {"deliveries_per_s", "server_cpu_per_delivery"} <= entry["ratio"].keys()
    assert [row["size"] for row in report["python_overhead"]] == [3, 6]
    assert all(row["chatkit_us"] > 0 and row["floor_us"] > 0 for row in report["python_overhead"])
    assert plot.stat().st_size > 10_000


def test_a_stalled_member_is_dropped_by_chatkit_and_the_others_get_everything():
    # 2,500 chats of 3 KB: more than the kernel's socket buffers and chatkit's 1 MiB allowance.
    result = bench.run_size(4, messages=2500, rounds=1, kinds=("floor", "chatkit"), pad=3000,
                            stall=True, progress=None, timeout=30)
    stalled = result["chatkit_stalled"]
    assert stalled["stalled_dropped"]
    assert stalled["lost"] == 0 and stalled["errors"] == []
    assert stalled["received"] == 4 * 2500
    # bounded: about max_buffer (1 MiB) more than without the stalled member
    assert stalled["server_peak_mib"] - result["chatkit"]["server_peak_mib"] < 4
    # the floor (websockets.broadcast, no backpressure) keeps everything for the stalled member
    assert not result["floor_stalled"]["stalled_dropped"]
    assert result["floor_stalled"]["lost"] == 0


def test_compare_broadcast_times_a_room_and_says_whether_it_is_correct():
    class SkipsTheFirst(Room):
        def broadcast(self, data):
            for member in tuple(self.members)[1:]:
                member.send(json.dumps(data))

    rows = bench.compare_broadcast(Room, sizes=[3, 30], messages=5, repeat=1)
    assert [row["size"] for row in rows] == [3, 30]
    assert all(row["correct"] and row["yours_us"] > 0 for row in rows)
    assert not bench.compare_broadcast(SkipsTheFirst, sizes=[3], messages=5, repeat=1)[0]["correct"]


def test_text_progress_draws_one_line_per_label():
    import io

    stream = io.StringIO()
    progress = bench.TextProgress(stream)
    progress("5 members", 0, 10)
    progress("5 members", 10, 10)
    progress("10 members", 5, 10)
    progress.close()
    assert stream.getvalue().count("\n") == 2
    assert "10/10 chats" in stream.getvalue()


@pytest.mark.timeout(90)
def test_notebook_6_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    nbclient.NotebookClient(
        notebook, timeout=60, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    text = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "different text objects: 1" in text
    assert "stalled member dropped: True" in text
    assert any("image/png" in output.get("data", {}) for cell in notebook.cells
               if cell.cell_type == "code" for output in cell.outputs)


def test_without_node_the_seed_kind_is_skipped_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm on this PATH
    results = bench.run(sizes=[3], messages=10, rounds=1, kinds=("seed", "floor", "chatkit"),
                        stall_size=0, overhead=False, progress=None, timeout=20)
    assert "node and npm are not installed" in results["skipped"]["seed"]
    assert results["kinds"] == ["floor", "chatkit"] and results["lost"] == 0
    assert results["sizes"][0]["baseline"] == "floor"
    assert bench.table(results).startswith("skipped seed: node and npm are not installed")
