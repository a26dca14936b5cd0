"""One rule for how often live views repaint during a run."""

from __future__ import annotations

import time

LIVE_REPAINT_S = 0.09  # during a run, repaint on at most one tick (~30 ms) in three


class RepaintThrottle:
    """Says when a view should repaint: at most every ``interval_s``; when ``pending`` things wait, up to
    ``busy_interval_s`` (the interval grows with ``pending / busy_count``), since each repaint costs more then."""

    def __init__(self, interval_s: float = LIVE_REPAINT_S, busy_interval_s: float | None = None,
                 busy_count: int = 1) -> None:
        self.interval_s = interval_s
        self.busy_interval_s = busy_interval_s if busy_interval_s is not None else interval_s
        self.busy_count = max(1, busy_count)
        self._last = 0.0

    def due(self, force: bool = False, pending: int = 0) -> bool:
        """Whether to repaint now (``force``: at once, e.g. for a pause or the end); a True answer starts the
        next interval."""
        now = time.monotonic()
        interval = min(self.busy_interval_s, self.interval_s * max(1.0, pending / self.busy_count))
        if force or now - self._last >= interval:
            self._last = now
            return True
        return False
