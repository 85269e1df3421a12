"""Request middleware of the shell."""

from django.conf import settings
from django.utils import translation


class LanguageMiddleware:
    """French unless the user chose another language (cookie set by set_language).

    Django's LocaleMiddleware would follow the browser's Accept-Language; Tandem's
    users work in French whatever their browser says, and may switch explicitly.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.available = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.available:
            language = settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language
        # override() restores the previous language afterwards, so that work done
        # later in this thread (tests, background jobs) is not left in English.
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response
