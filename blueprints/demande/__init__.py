"""The affiliate's journey, from the home page to the récapitulatif (blueprint "demande").

views.py holds the routes in the guide's order; beside it access, draft, situation, move,
rendering, caching (the move's ETag, 304 and kept panels) and downloads.
"""

from blueprints.demande.views import bp

__all__ = ["bp"]
