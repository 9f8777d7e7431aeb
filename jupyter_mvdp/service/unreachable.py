"""What a run shows while its target does not answer: since when, how often it is retried,
and past a limit "unknown" rather than "running" (it goes back when the target answers)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..exceptions import MvdpError, TargetUnreachable

#: seconds a run's target may stay unreachable before the run is reported "unknown"
DEFAULT_UNREACHABLE_LIMIT = 300.0
_TARGET_TITLES = {"airflow": "Airflow", "astro": "Astro"}


@dataclass
class UnreachablePolicy:
    limit: float = DEFAULT_UNREACHABLE_LIMIT
    poll_interval: float = 1.0  # said in the message

    def update(
        self, stored: dict, target_kind: str, target_name: str, error: MvdpError
    ) -> tuple[str, str, float] | None:
        """A poll failed: the run's new (state, message, unreachable_since), or None when
        that is what it already shows."""
        now = time.time()
        since = stored["unreachable_since"] or now
        when = time.strftime("%H:%M:%S", time.localtime(since))
        title = _TARGET_TITLES.get(target_kind, target_name)
        every = f"retrying every {self.poll_interval:g} s"
        if isinstance(error, TargetUnreachable):
            message = f"{title} unreachable since {when}; {every}"
        else:
            message = f"{error.message} (since {when}); {every}"
        state = "unknown" if now - since > self.limit else stored["state"]
        if (state, message, since) == (
            stored["state"],
            stored["message"],
            stored["unreachable_since"],
        ):
            return None
        return state, message, since
