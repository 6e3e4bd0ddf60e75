"""Route optimisation: the order of a run's stops, by the VROOM solver.

PLACEHOLDER until the routing work lands: the wave calls plan_run for each run.
"""

from __future__ import annotations


def plan_run(*, run) -> None:
    """Order the run's stops and set planned arrivals and distance (no-op for now)."""
    return None
