"""Metrics of the HTTP side itself: requests by route and status, and their latency.

Labelled by the route's template (``/ws/{name}/diff``), never by the URL, so the
number of series stays bounded whatever callers ask for. Registered once, on
prometheus_client's default registry, which `/metrics` exposes with the server's
other metrics.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("citcfs_http_requests_total",
                   "HTTP requests answered by the server's web listener, by route and status",
                   ("route", "code"))
LATENCY = Histogram("citcfs_http_request_duration_seconds",
                    "Time to answer an HTTP request of the web listener, by route",
                    ("route",),
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                             5, 10))


def observe(route: str, code: int, seconds: float) -> None:
    REQUESTS.labels(route, str(code)).inc()
    LATENCY.labels(route).observe(seconds)
