"""Static files served by the application process itself (WhiteNoise).

Under DEBUG=0 the files are those `collectstatic` gathered in STATIC_ROOT, loaded once
at start-up, under names that carry a hash of their content; in development they are
looked up in the apps at each request.
"""

import logging

from django.contrib.staticfiles import apps as staticfiles_apps
from django.core.files.storage import FileSystemStorage
from django.http import HttpResponseNotFound
from whitenoise.middleware import WhiteNoiseMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, and a bare 404 for any other address under STATIC_URL.

    A missing asset is not an access refusal: it never reaches the views, the session
    or the audit journal (whose single writer lock it would otherwise take).
    """

    def __init__(self, get_response):
        def not_an_asset(request):
            if request.path_info.startswith(self.static_prefix):
                return HttpResponseNotFound(content_type="text/plain")
            return get_response(request)

        super().__init__(not_an_asset)


class StaticFilesConfig(staticfiles_apps.StaticFilesConfig):
    """Django's staticfiles app; `collectstatic` leaves out the node_modules copies.

    viewflow ships its fonts twice, the second time with the npm packages they came
    from, whose style sheets name font files that are not there: hashing the names
    (ManifestStaticFilesStorage rewrites every url() of a style sheet) would stop at
    the first of them. No page uses those copies.
    """

    ignore_patterns = [
        *staticfiles_apps.StaticFilesConfig.ignore_patterns,
        "node_modules",
    ]


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed names; a file that `collectstatic` has not
    gathered is linked under its plain name (a 404) and logged, not a 500 page.

    Without this, a page naming a file that is missing from STATIC_ROOT fails whole
    (Django raises ValueError): an installation where `collectstatic` was forgotten
    would answer nothing but errors, where it now shows unstyled pages and says why.
    """

    def url(self, name, force=False):
        try:
            return super().url(name, force)
        except ValueError:
            logger.warning(
                "Fichier statique absent de STATIC_ROOT (collectstatic lancé ?) : %s",
                name,
            )
            return FileSystemStorage.url(self, name)
