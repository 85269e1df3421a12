"""Each address's resolution is kept per worker (workflow.urls.resolutions_kept):
the same view and arguments as resolving it again, a match of its own per
request, and an address nothing matches is not kept."""

import pytest
from django.urls import Resolver404, resolve

from tandem import urls
from workflow.urls import resolutions_kept


def _site_resolver():
    (kept,) = [p for p in urls.urlpatterns if hasattr(p.resolve, "cache_info")]
    return kept


def test_a_kept_resolution_is_the_resolution():
    kept = _site_resolver()
    kept.resolve.cache_clear()
    first = resolve("/evolutions/123/")
    again = resolve("/evolutions/123/")
    assert kept.resolve.cache_info().hits == 1
    assert (first.func, first.kwargs, first.url_name, first.namespaces) == (
        again.func,
        {"pk": 123},
        "detail",
        again.namespaces,
    )
    assert first.view_name == "evolutions:detail"
    # Each request its own match and arguments: one view changing them changes
    # nothing for the next request.
    assert first is not again and first.kwargs is not again.kwargs
    first.kwargs["pk"] = 7
    assert resolve("/evolutions/123/").kwargs == {"pk": 123}
    other = resolve("/evolutions/124/")
    assert other.kwargs == {"pk": 124} and other.func is first.func


def test_an_address_nothing_matches_is_not_kept():
    kept = _site_resolver()
    kept.resolve.cache_clear()
    for _ in range(2):
        with pytest.raises(Resolver404):
            resolve("/nulle-part/ici/")
    assert kept.resolve.cache_info().currsize == 0


def test_only_a_resolver_is_kept():
    with pytest.raises(TypeError):
        resolutions_kept(lambda path: None)
