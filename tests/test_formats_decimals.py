"""mans.formats.decimals: the vectorised decimal parser agrees with float() bit for bit."""

from __future__ import annotations

import re

import numpy as np

from mans.formats.decimals import WIDTH, parse_decimals

SIMPLE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def run(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Lay ``tokens`` out space-separated after WIDTH pad bytes and parse them."""
    text = " ".join(tokens).encode()
    buf = np.frombuffer(bytes(WIDTH) + text, dtype=np.uint8)
    lengths = np.array([len(t) for t in tokens])
    ends = WIDTH + np.cumsum(lengths + 1) - 1
    return parse_decimals(buf, ends, lengths)


def test_matches_float_exactly():
    rng = np.random.default_rng(0)
    v = rng.normal(size=4000) * 10.0 ** rng.integers(-6, 5, size=4000)
    tokens = (["%.9G" % np.float32(x) for x in v] + [repr(float(x)) for x in v]
              + ["%.7f" % x for x in v]
              + ["0", "-0", "-0.0", "007.5", "12.5", "123456789012345", "-12345678901234",
                 "99999999999999.9", "0.00000000000001", "3.810989", "-0.05403496"])
    values, ok = run(tokens)
    for t, x, good in zip(tokens, values.tolist(), ok.tolist()):
        assert good == bool(SIMPLE.fullmatch(t) and len(t) < WIDTH), t
        if good:
            ref = float(t)
            assert x == ref and np.signbit(x) == np.signbit(ref), t
    assert ok.sum() > 6000  # the short ones (not 17-digit reprs) take the vectorised path


def test_declines_everything_else():
    rng = np.random.default_rng(1)
    alphabet = list("0123456789.-+eE")
    tokens = ["".join(rng.choice(alphabet, size=rng.integers(1, 9))) for _ in range(20000)]
    tokens += ["1e5", "+1", ".5", "5.", "-", ".", "1.2.3", "--1", "1-2", "1234567890123456"]
    values, ok = run(tokens)
    for t, x, good in zip(tokens, values.tolist(), ok.tolist()):
        assert good == bool(SIMPLE.fullmatch(t) and len(t) < WIDTH), t
        if good:
            assert x == float(t), t
