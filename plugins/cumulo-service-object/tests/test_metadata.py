"""Case-insensitive metadata (cumulo.utils.metadata), the one merge the service and the backends use."""

from __future__ import annotations

import cumulo_service_object.containers as containers
import cumulo_service_object.store as store

from cumulo.utils.metadata import ci_get, ci_merge


def test_lookup_in_any_case():
    meta = {"X-Container-Meta-Color": "red"}
    assert ci_get(meta, "x-container-meta-color") == "red"
    assert ci_get(meta, "X-CONTAINER-META-COLOR") == "red"
    assert ci_get(meta, "X-Container-Meta-Size") is None
    assert ci_get(meta, "X-Container-Meta-Size", "L") == "L"


def test_merge_sets_replaces_whatever_the_case_and_removes_on_empty():
    current = {"X-Account-Meta-Color": "red", "x-account-meta-size": "L", "X-Account-Meta-Keep": "k"}
    merged = ci_merge(current, {"x-account-meta-color": "blue", "X-Account-Meta-Size": "", "X-Account-Meta-New": "n"})
    assert merged == {"X-Account-Meta-Keep": "k", "x-account-meta-color": "blue", "X-Account-Meta-New": "n"}
    assert current["X-Account-Meta-Color"] == "red"  # not modified


def test_merge_of_keys_differing_by_case_keeps_one():
    assert ci_merge({"A": "1", "a": "2"}, {"A": "3"}) == {"A": "3"}
    assert ci_merge({}, {"A": ""}) == {}


def test_the_service_uses_the_kernels_helpers():
    assert store.ci_get is ci_get
    assert containers.ci_merge is ci_merge


def test_copy_override_keeps_empty_values():
    """A copy's request headers override the source's metadata; an empty value stays, as in Swift's copy."""
    from cumulo_service_object.objects import ci_override

    src = {"X-Object-Meta-Src": "s", "x-object-meta-b": "old"}
    merged = ci_override(src, {"X-Object-Meta-B": "new", "X-Object-Meta-Test": ""})
    assert merged == {"X-Object-Meta-Src": "s", "X-Object-Meta-B": "new", "X-Object-Meta-Test": ""}
    assert src == {"X-Object-Meta-Src": "s", "x-object-meta-b": "old"}
