"""Pages of the apps that follow a change request (its acceptance…), linked from
the request's page: each app declares its link from its AppConfig.ready(), so
that evolutions never names them."""

from collections.abc import Callable

# (change request, user) → (label, url), or None when there is nothing to show.
RequestLink = Callable[[object, object], tuple[str, str] | None]

_LINKS: list[RequestLink] = []


def register_request_link(link: RequestLink) -> None:
    """Declare a page about a change request (once)."""
    if link not in _LINKS:
        _LINKS.append(link)


def request_links(change_request, user) -> list[tuple[str, str]]:
    """The declared pages about `change_request` that `user` may follow (the
    user sees the request already: each link is to the same request's data)."""
    return [found for link in _LINKS if (found := link(change_request, user))]
