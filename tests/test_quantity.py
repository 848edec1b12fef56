"""Kubernetes quantity parsing, rounding and formatting."""

from __future__ import annotations

import pytest

from aiops.errors import InputError
from aiops.model.quantity import (
    MI,
    ceil_cpu,
    ceil_mi,
    format_cpu,
    format_memory,
    nice_ceil_mi,
    parse_cpu,
    parse_memory,
)


@pytest.mark.parametrize(
    ("text", "cores"),
    [("130m", 0.13), ("1", 1.0), ("1.5", 1.5), (2, 2.0), ("250000u", 0.25), ("100000000n", 0.1)],
)
def test_parse_cpu(text: object, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "num_bytes"),
    [
        ("156Mi", 156 * MI),
        ("1Gi", 2**30),
        ("1G", 1e9),
        ("512", 512.0),
        ("1.5Gi", 1.5 * 2**30),
        ("128974848", 128974848),
    ],
)
def test_parse_memory(text: object, num_bytes: float) -> None:
    assert parse_memory(text) == pytest.approx(num_bytes)


@pytest.mark.parametrize("bad", ["lots", "12Qi", "", True, "1..2"])
def test_bad_quantities_name_the_field(bad: object) -> None:
    with pytest.raises(InputError, match=r"resources\.limits\.memory"):
        parse_memory(bad, field="resources.limits.memory")


def test_rounding_is_epsilon_safe_and_human_friendly() -> None:
    assert format_cpu(ceil_cpu(0.1 * 1.3)) == "130m"
    assert format_cpu(ceil_cpu(0.1 * 3)) == "300m"
    assert format_cpu(ceil_cpu(1.23)) == "1250m"
    assert format_memory(ceil_mi(120 * MI * 1.3)) == "156Mi"
    assert nice_ceil_mi(195 * MI) == 200 * MI
    assert nice_ceil_mi(228 * MI) == 230 * MI
    assert nice_ceil_mi(1234 * MI) == 1300 * MI
    assert format_memory(2 * 2**30) == "2Gi"
    assert format_memory(1536 * MI) == "1536Mi"
    assert format_cpu(2.0) == "2"
