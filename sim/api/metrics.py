"""The server measuring itself: request counts and latencies per endpoint, for ``/metrics`` and the
health board.

:class:`RequestStats` is fed by :class:`MeasuringMiddleware`, a plain ASGI middleware that times
each request from its arrival to the end of its response body (for the event stream: to the start of
the response, since a stream never ends by itself). Endpoints are labelled by their route, so a
fuzzer's thousand odd paths are one ``other`` label and the series stay few.

:func:`prometheus_text` renders the text exposition format (version 0.0.4): counters, a latency
histogram per endpoint, and gauges of the index (last record, lag, backing ratio) given to it.
"""

from __future__ import annotations

import threading
import time
from collections import deque

#: Histogram bucket bounds, seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: The health board's p50/p99 are over this many most recent requests.
RECENT = 2_000


class RequestStats:
    """Thread-safe counters: per (endpoint, status) counts, per endpoint histograms, recent latencies."""

    def __init__(self, endpoints: set[str]):
        self.endpoints = endpoints
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, int], int] = {}
        self.histograms: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}
        self.recent: deque[float] = deque(maxlen=RECENT)

    def label(self, path: str) -> str:
        return path if path in self.endpoints else "other"

    def record(self, path: str, status: int, seconds: float | None) -> None:
        endpoint = self.label(path)
        with self._lock:
            key = (endpoint, status)
            self.counts[key] = self.counts.get(key, 0) + 1
            if seconds is None:
                return
            buckets = self.histograms.get(endpoint)
            if buckets is None:
                buckets = self.histograms[endpoint] = [0] * (len(BUCKETS) + 1)
            index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
            buckets[index] += 1
            self.sums[endpoint] = self.sums.get(endpoint, 0.0) + seconds
            if endpoint.startswith("/api/"):
                self.recent.append(seconds)

    def latency(self) -> dict:
        """p50/p99 in ms over the recent API requests (None before the first)."""
        with self._lock:
            values = sorted(self.recent)
        if not values:
            return {"requests": 0, "p50_ms": None, "p99_ms": None}

        def pick(q: float) -> float:
            return round(values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))] * 1000, 3)

        return {"requests": len(values), "p50_ms": pick(0.5), "p99_ms": pick(0.99)}

    def snapshot(self) -> tuple[dict, dict, dict]:
        with self._lock:
            return dict(self.counts), {k: list(v) for k, v in self.histograms.items()}, dict(self.sums)


class MeasuringMiddleware:
    """Times every HTTP request into a :class:`RequestStats`."""

    def __init__(self, app, stats: RequestStats, streaming: set[str]):
        self.app, self.stats, self.streaming = app, stats, streaming

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        state = {"status": 500, "recorded": False}
        streaming = path in self.streaming

        async def timed_send(message):
            kind = message["type"]
            if kind == "http.response.start":
                state["status"] = message["status"]
                if streaming:
                    self.stats.record(path, message["status"], None)
                    state["recorded"] = True
            elif kind == "http.response.body" and not message.get("more_body") and not state["recorded"]:
                state["recorded"] = True
                await send(message)
                self.stats.record(path, state["status"], time.perf_counter() - start)
                return
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not state["recorded"]:
                self.stats.record(path, state["status"], None if streaming else time.perf_counter() - start)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(stats: RequestStats, gauges: dict[str, tuple[str, float | int | None]]) -> str:
    """The exposition text: request counters and histograms, then ``gauges`` (name -> (help, value);
    a None value is left out)."""
    counts, histograms, sums = stats.snapshot()
    lines = ["# HELP rbtc_api_requests_total HTTP requests answered, by endpoint and status.",
             "# TYPE rbtc_api_requests_total counter"]
    for (endpoint, status), count in sorted(counts.items()):
        lines.append(f'rbtc_api_requests_total{{endpoint="{_escape(endpoint)}",status="{status}"}} {count}')
    lines += ["# HELP rbtc_api_request_duration_seconds Time from a request's arrival to the end of its response.",
              "# TYPE rbtc_api_request_duration_seconds histogram"]
    for endpoint, buckets in sorted(histograms.items()):
        label = _escape(endpoint)
        running = 0
        for bound, count in zip((*BUCKETS, float("inf")), buckets):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'rbtc_api_request_duration_seconds_bucket{{endpoint="{label}",le="{le}"}} {running}')
        lines.append(f'rbtc_api_request_duration_seconds_sum{{endpoint="{label}"}} {sums.get(endpoint, 0.0):.6f}')
        lines.append(f'rbtc_api_request_duration_seconds_count{{endpoint="{label}"}} {running}')
    for name, (help_text, value) in gauges.items():
        if value is None:
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(lines) + "\n"
