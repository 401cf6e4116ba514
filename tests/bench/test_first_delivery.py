"""``benchmarks/first_delivery.py`` at a tiny size: each chat's period split in three parts."""

from __future__ import annotations

import pytest

from benchmarks import first_delivery


@pytest.mark.parametrize("kind", ["floor", "chatkit"])
def test_each_chat_reaches_every_member_and_its_period_splits_in_three(kind):
    result = first_delivery.measure(kind, members=4, chats=30, timeout=30)
    parts = result["send_to_first_us"], result["first_to_last_us"], result["last_to_next_us"]
    assert all(part >= 0 for part in parts) and result["send_to_first_us"] > 0
    assert result["deliveries_per_s"] == pytest.approx(4e6 / result["period_us"])
    assert result["server_cpu_us_per_chat"] >= 0 and result["clients_cpu_us_per_chat"] > 0


def test_a_server_that_takes_the_deflate_offer_is_refused_not_misread():
    # chatkit's "shared" policy compresses: the probe reads plain frames only, and says so
    with pytest.raises(RuntimeError, match="took the deflate offer"):
        first_delivery.measure("shared", members=2, chats=5, timeout=30)
