"""One-line progress on a terminal: a status line that redraws itself, and the run's progress bar.

Both are silent when the stream is not a TTY (a redirected run, CI), so logs stay clean.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    return f"{days}d {hours:02d}:{minutes:02d}" if days else f"{hours:02d}:{minutes:02d}"


class StatusLine:
    """A line redrawn in place with :meth:`draw`; :meth:`close` ends it. Silent off a TTY."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self.drawn = False

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def draw(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"\r{text}  ")
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class ProgressBar(StatusLine):
    """Call with ``(simulated_s, duration_s, events)``; draws after ``delay_s`` of wall time."""

    def __init__(self, label: str, stream=None, delay_s: float = 2.0, width: int = 28):
        super().__init__(stream)
        self.label = label
        self.delay_s = delay_s
        self.width = width

    def __call__(self, simulated_s: int, duration_s: int, events: int) -> None:
        elapsed = self.elapsed
        if not self.enabled or elapsed < self.delay_s:
            return
        done = min(1.0, simulated_s / duration_s) if duration_s else 1.0
        filled = int(done * self.width)
        eta = elapsed * (1 - done) / done if done > 0 else 0
        self.draw(f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done:5.1%}  "
                  f"sim {_clock(simulated_s)}/{_clock(duration_s)}  {events / elapsed:,.0f} events/s  "
                  f"ETA {_clock(eta) if eta >= 60 else f'{eta:.0f}s'}")
