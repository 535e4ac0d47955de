"""What an htmx request asks for, and how to send the browser elsewhere from one."""

from __future__ import annotations

from flask import make_response, request


def partial_request() -> bool:
    """An htmx request for a fragment (not a boosted navigation or a history restore)."""
    return (
        bool(request.htmx)
        and not request.htmx.boosted
        and not (request.htmx.history_restore_request)
    )


def browser_redirect(target: str):
    """htmx would follow a redirect itself and swap the next page into the fragment:
    an empty answer with HX-Redirect makes the browser load it instead."""
    response = make_response("", 204)
    response.headers["HX-Redirect"] = target
    return response
