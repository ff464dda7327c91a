"""URL-encoded form bodies: every field at most once, decided here for every form handler.

A field sent twice arrives from the parser as a list, and handlers that read it as one
value answered 500 (`key in registry` on a list, `int([...])`). Declared once as the body
type of every form handler, `FormData` lets the body parser refuse such a form with 400
before any handler reads it. None of our URL-encoded forms has a field that may repeat
(the multipart upload's `dateien` is read by its own handler), and picking one of two
values would silently accept forged or ambiguous input.
"""

from __future__ import annotations

from typing import Annotated

from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Body

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

REFUSED_FORM_MESSAGE = (
    "Das Formular enthält ungültige Angaben, etwa ein doppelt gesendetes Feld. "
    "Bitte laden Sie die Seite neu und versuchen Sie es erneut."
)


def is_refused_form(exc: HTTPException) -> bool:
    """Whether the body parser refused a request's body (a repeated field, a wrong type)."""
    if not isinstance(exc, ValidationException) or not isinstance(exc.extra, list):
        return False
    return any(isinstance(e, dict) and e.get("source") == "body" for e in exc.extra)
