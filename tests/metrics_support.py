"""Reading Prometheus exposition text in tests, as a scraper would."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""(sample name, its labels) -> value."""


def parse_exposition(text: str) -> tuple[dict[str, str], Samples]:
    """(family name -> type, every sample) of exposition `text`."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return types, samples


def scrape_registry() -> tuple[dict[str, str], Samples]:
    """The default registry (the server's metrics in this process), parsed."""
    return parse_exposition(generate_latest(REGISTRY).decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    """The value of one sample, 0 where it was never recorded."""
    return samples.get((name, frozenset(labels.items())), 0.0)
