"""Tandem's URLs plus one route for the floors: bare views the bench registers at
run time (bench/floors.py), behind the same middleware as the pages."""

from django.http import Http404
from django.urls import path

from bench import floors
from tandem.urls import urlpatterns as tandem_urlpatterns


def floor_view(request, name: str):
    view = floors.VIEWS.get(name)
    if view is None:
        raise Http404
    return view(request)


urlpatterns = [
    path("_bench/floor/<slug:name>/", floor_view, name="bench_floor"),
    *tandem_urlpatterns,
]
