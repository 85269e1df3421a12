"""Tandem's URLs plus the bench's own routes, behind the same middleware as the
pages: one for the floors, bare views the bench registers at run time
(bench/floors.py), and an empty page in Tandem's shell (bench/pages.py)."""

from django.http import Http404
from django.urls import path

from bench import floors
from bench.pages import shell_page
from tandem.urls import urlpatterns as tandem_urlpatterns


def floor_view(request, name: str):
    view = floors.VIEWS.get(name)
    if view is None:
        raise Http404
    return view(request)


urlpatterns = [
    path("_bench/floor/<slug:name>/", floor_view, name="bench_floor"),
    path("_bench/shell/", shell_page, name="bench_shell"),
    *tandem_urlpatterns,
]
