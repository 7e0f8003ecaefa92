"""XFetch (probabilistic early recomputation) at a high read rate, simulated on a virtual clock.

The notebook's XFetch rule decides, for one read, whether to recompute a value early: with ``time_left``
seconds before expiry and a recomputation that takes ``delta`` seconds, a read refreshes when
``-delta * beta * ln(u) >= time_left`` for ``u`` uniform in (0, 1] (Vattani, Chierichetti and Lowenstein,
VLDB 2015). Measuring its behaviour across many expiries and several values of beta on a live herd would
take minutes, so this module applies the *same rule function* to seeded streams of reads on a virtual
clock: Poisson arrivals at ``rate_per_s``, each recomputation taking exactly ``recompute_ms``, no lock.

Per expiry it counts the recomputations (the first early refresh, the duplicates that trigger while it
is in flight, and the real misses if the value expired before a refresh finished) and how long before
expiry the first refresh started (cache lifetime given up for freshness). Reads long before expiry
trigger with a vanishingly small probability, so each expiry is simulated from the moment where an
early trigger has a chance above one in ten thousand of having happened already, not from the start of
a long TTL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from helpers.core.errors import InvalidArgument, require_positive, require_whole
from helpers.core.workloads import poisson_arrivals

# rule(time_left_s, delta_s, beta, u) -> bool, applied here to numpy arrays of reads.
RefreshRule = Callable[[np.ndarray, float, float, np.ndarray], np.ndarray]
NEGLIGIBLE = 1e-4  # probability that an early refresh happened before the simulated stretch starts


@dataclass(frozen=True)
class XFetchOutcome:
    """What one value of beta did over many simulated expiries."""

    beta: float
    expiries: int
    recomputations_per_expiry: float  # mean recomputations per expiry (1.0 would be perfect)
    lead_ms: float  # mean time left when the first recomputation started (0 when it started after expiry)
    miss_share: float  # share of expiries in which some read found the value expired (a real miss)

    @property
    def expected_recomputations(self) -> float:
        """The high-rate expectation of recomputations per expiry without a lock: e^(1/beta)."""
        return math.exp(1.0 / self.beta)


def simulate_xfetch(
    rule: RefreshRule,
    beta: float,
    *,
    rate_per_s: float,
    recompute_ms: float,
    expiries: int = 200,
    seed: int = 0,
) -> XFetchOutcome:
    """Apply ``rule`` to ``expiries`` seeded read streams at ``rate_per_s``; count what each expiry cost."""
    require_positive("beta", beta)
    require_positive("rate_per_s", rate_per_s)
    delta = require_positive("recompute_ms", recompute_ms) / 1000.0
    expiries = require_whole("expiries", expiries, minimum=1)
    scale = beta * delta
    # Before `horizon` seconds to expiry, the chance that any read triggered is below NEGLIGIBLE.
    horizon = max(3 * delta, scale * math.log(max(rate_per_s * scale / NEGLIGIBLE, math.e)))
    span = horizon + 3 * delta  # simulate until the refresh (or the miss's recomputation) surely finished
    rng = np.random.default_rng(seed)
    recomputations = np.zeros(expiries)
    leads = np.zeros(expiries)
    missed = np.zeros(expiries, dtype=bool)
    for cycle in range(expiries):
        times = poisson_arrivals(rate_per_s, span, rng)
        time_left = horizon - times
        u = 1.0 - rng.random(times.size)  # in (0, 1]: log(u) is finite
        triggers = np.asarray(rule(time_left, delta, beta, u), dtype=bool)
        if triggers.shape != times.shape:
            raise InvalidArgument(
                "the refresh rule must work on numpy arrays (use np.log, not math.log) and return one "
                f"decision per read; it returned shape {triggers.shape} for {times.size} reads."
            )
        early = np.flatnonzero(triggers & (time_left > 0))
        if early.size:
            first = times[early[0]]
            leads[cycle] = horizon - first
        else:  # nobody refreshed early: the first read after expiry misses and recomputes
            after = np.flatnonzero(time_left <= 0)
            if after.size == 0:
                continue
            first = times[after[0]]
        done = first + delta
        in_flight = (times >= first) & (times < done)
        before_expiry = in_flight & (time_left > 0)
        misses = in_flight & (time_left <= 0)  # the value is gone and the new one is not stored yet
        recomputations[cycle] = np.count_nonzero(before_expiry & triggers) + np.count_nonzero(misses)
        missed[cycle] = bool(misses.any())
    return XFetchOutcome(
        beta=float(beta),
        expiries=expiries,
        recomputations_per_expiry=float(recomputations.mean()),
        lead_ms=float(leads.mean() * 1000.0),
        miss_share=float(missed.mean()),
    )


def sweep_xfetch(
    rule: RefreshRule,
    betas: Iterable[float],
    *,
    rate_per_s: float,
    recompute_ms: float,
    expiries: int = 200,
    seed: int = 0,
) -> list[XFetchOutcome]:
    """``simulate_xfetch`` for each beta, each with its own seed derived from ``seed``."""
    betas = list(betas)
    if not betas:
        raise InvalidArgument("sweep_xfetch() needs at least one beta, e.g. [0.5, 1, 2].")
    return [
        simulate_xfetch(rule, beta, rate_per_s=rate_per_s, recompute_ms=recompute_ms, expiries=expiries, seed=seed + i)
        for i, beta in enumerate(betas)
    ]
