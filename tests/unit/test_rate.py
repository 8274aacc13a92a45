from jumbe.core.rate import TokenBucket


def test_burst_then_sustained_rate() -> None:
    bucket = TokenBucket(rate=50, now=0.0)
    assert sum(bucket.take(0.0) for _ in range(60)) == 50  # one second's burst
    assert not bucket.take(0.0)
    assert sum(bucket.take(0.1) for _ in range(10)) == 5  # 50/s refills 5 in 0.1 s
    assert sum(bucket.take(10.0) for _ in range(100)) == 50  # refills cap at the burst


def test_slow_rates_still_allow_one() -> None:
    bucket = TokenBucket(rate=0.5, now=0.0)
    assert bucket.take(0.0) and not bucket.take(1.0) and bucket.take(2.0)
