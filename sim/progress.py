"""A one-line progress bar for long runs: simulated time, events per second, ETA. Silent off a TTY."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    return f"{days}d {hours:02d}:{minutes:02d}" if days else f"{hours:02d}:{minutes:02d}"


class ProgressBar:
    """Call with ``(simulated_s, duration_s, events)``; draws only on a TTY and after ``delay_s`` of wall time."""

    def __init__(self, label: str, stream=None, delay_s: float = 2.0, width: int = 28):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.delay_s = delay_s
        self.width = width
        self.started = time.perf_counter()
        self.drawn = False

    def __call__(self, simulated_s: int, duration_s: int, events: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        if elapsed < self.delay_s:
            return
        done = min(1.0, simulated_s / duration_s) if duration_s else 1.0
        filled = int(done * self.width)
        eta = elapsed * (1 - done) / done if done > 0 else 0
        line = (f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done:5.1%}  "
                f"sim {_clock(simulated_s)}/{_clock(duration_s)}  {events / elapsed:,.0f} events/s  "
                f"ETA {_clock(eta) if eta >= 60 else f'{eta:.0f}s'}  ")
        self.stream.write(line)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
