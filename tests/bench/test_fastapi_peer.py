"""The FastAPI peer: its virtual environment is made once and reused, and it serves the
chat's protocol to browser-like clients -- with uvicorn's defaults (deflate negotiated)
and with compression off. Real processes on 127.0.0.1; no speed is asserted."""

from __future__ import annotations

import subprocess

import pytest

from chatkit import bench
from chatkit.bench import peers


def test_the_fastapi_peer_environment_is_made_once_and_has_fastapi_and_uvicorn():
    first = peers.install_fastapi()  # made by `make test-setup` (scripts/install-seed)
    marker = first / peers.INSTALLED
    made = marker.stat().st_mtime_ns
    assert peers.install_fastapi() == first and marker.stat().st_mtime_ns == made  # not remade
    versions = subprocess.run(
        [str(first / "bin" / "python"), "-c",
         "import fastapi, uvicorn; print(fastapi.__version__, uvicorn.__version__)"],
        capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert len(versions) == 2
    command, folder = peers.fastapi_command(3999, compression=False)
    assert command[-2:] == ["--ws-per-message-deflate", "false"]
    assert (folder / "chat_app.py").is_file()
    assert "--ws-per-message-deflate" not in peers.fastapi_command(3999)[0]


@pytest.mark.timeout(120)
def test_the_fastapi_peer_delivers_every_chat_with_deflate_by_default_and_plain_when_off():
    kinds = ("fastapi", "fastapi-off", "unbatched")
    result = bench.run_size(5, messages=20, rounds=1, kinds=kinds, progress=None, timeout=30)
    for kind in kinds:
        figures = result[kind]
        assert figures["errors"] == [] and figures["lost"] == 0
        assert figures["received"] == figures["expected"] == 5 * 20
        assert figures["server_cpu_ms_per_1000"] > 0
    # uvicorn accepts the deflate a browser offers; switched off, it sends plain frames
    assert result["fastapi"]["negotiated"].startswith("permessage-deflate")
    assert result["fastapi-off"]["negotiated"] == ""
    assert (result["fastapi"]["wire_bytes_per_delivery"]
            < result["fastapi-off"]["wire_bytes_per_delivery"])


def test_a_missing_fastapi_app_skips_its_kinds_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "FASTAPI_PEER", tmp_path)  # an empty folder: no chat_app.py
    results = bench.run(sizes=[3], messages=10, rounds=1, kinds=("fastapi", "chatkit"),
                        stall_size=0, overhead=False, progress=None, timeout=20)
    assert "FastAPI peer's app was not found" in results["skipped"]["fastapi"]
    assert results["kinds"] == ["chatkit"] and results["lost"] == 0
