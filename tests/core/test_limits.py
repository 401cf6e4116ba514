"""The limits' pure policy (chatkit.core.limits): one token bucket under every limit."""

from __future__ import annotations

import random

from chatkit.core import limits
from chatkit.core.limits import ClientLimit, RateLimit, TokenBucket, take_all


def test_a_refused_take_spends_nothing_and_the_bucket_refills_up_to_its_capacity_only():
    bucket = TokenBucket(capacity=3, rate=2.0)
    assert [bucket.take(now=0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(5, now=10.0)  # more than the capacity: never
    assert bucket.tokens == 3.0  # a long rest refilled it to 3, not 20; the refusal spent none
    assert bucket.take(3, now=10.0) and not bucket.take(now=10.25)
    assert bucket.take(now=10.5)  # half a second at 2 a second: one token


def test_a_bucket_never_lets_through_more_than_its_burst_plus_what_flowed_in():
    rng = random.Random(21)
    for _ in range(200):
        capacity, rate = rng.randint(1, 20), rng.choice([0.5, 1.0, 15.0, 100.0])
        bucket, now, spent = TokenBucket(capacity, rate), 0.0, 0.0
        for _ in range(100):
            now += rng.choice([0.0, 0.0, 0.001, 0.01, 0.1, 1.0])
            amount = rng.choice([1, 1, 2, 5])
            spent += amount if bucket.take(amount, now=now) else 0
            assert spent <= capacity + rate * now + 1e-9


def test_a_client_budget_spends_messages_and_bytes_together_or_not_at_all():
    messages, size = TokenBucket(2, 1.0), TokenBucket(100, 10.0)
    assert not take_all(((messages, 1), (size, 101)), now=0.0)
    assert (messages.tokens, size.tokens) == (2.0, 100.0)
    spend = ClientLimit(burst=2, per_second=1.0, bytes_burst=100, bytes_per_second=10).spender()
    assert [spend(90, now=0.0), spend(20, now=0.0), spend(10, now=0.0), spend(0, now=0.0)] == [
        True, False, True, False]  # bytes ran out, then messages
    assert spend(10, now=1.0)  # a second later: one message and 10 bytes more


def test_each_connection_gets_a_bucket_of_its_own_and_each_client_a_budget_of_its_own():
    limit, budget = RateLimit(burst=1, per_second=0.001), ClientLimit(burst=1, per_second=0.001)
    first, second = limit.bucket(), limit.bucket()
    assert first(now=0.0) and not first(now=0.0) and second(now=0.0)
    ann, bea = budget.spender(), budget.spender()
    assert ann(1, now=0.0) and not ann(1, now=0.0) and bea(1, now=0.0)


def test_the_defaults_are_the_named_constants():
    assert (RateLimit().burst, RateLimit().per_second) == (limits.RATE_BURST,
                                                           limits.RATE_PER_SECOND)
    assert ClientLimit() == ClientLimit(limits.CLIENT_BURST, limits.CLIENT_PER_SECOND,
                                        limits.CLIENT_BYTES_BURST, limits.CLIENT_BYTES_PER_SECOND)
    assert RateLimit().describe() == "15 messages a second"
    assert ClientLimit().describe() == "30 messages and 64 KiB a second"
    assert RateLimit(per_second=0.5).pause() == 1.0  # never more than a second unread
