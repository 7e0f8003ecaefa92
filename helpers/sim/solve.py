"""One root finder for the models: where an increasing function of one number reaches a target (bisection)."""

from __future__ import annotations

from collections.abc import Callable

from helpers.core.errors import InvalidArgument, require_non_negative, require_positive

MAX_STEPS = 2000  # far more than the ~1100 halvings that can separate two floats: a safety net only


def bisect_increasing(
    function: Callable[[float], float], target: float, *, low: float = 0.0, high: float = 1.0
) -> tuple[float, float]:
    """The bracket ``(below, above)`` where an increasing ``function`` crosses ``target``, to the last float.

    ``function(below) <= target < function(above)``, and no float lies between the two (or they are
    equal). ``high`` is only a first guess: it is doubled until ``function(high) > target``. ``low``
    must satisfy ``function(low) <= target``.
    """
    require_non_negative("low", low)
    require_positive("high", high)
    if high <= low:
        raise InvalidArgument(f"high ({high!r}) must be above low ({low!r}).")
    if function(low) > target:
        raise InvalidArgument(f"the function is already above the target ({target!r}) at low = {low!r}.")
    while function(high) <= target:
        low, high = high, high * 2.0
        if high == float("inf"):
            raise InvalidArgument(f"the function never exceeds the target ({target!r}): no finite answer.")
    for _ in range(MAX_STEPS):
        middle = (low + high) / 2.0
        if middle in (low, high):  # adjacent floats: as close as a float can get
            break
        if function(middle) <= target:
            low = middle
        else:
            high = middle
    return low, high
