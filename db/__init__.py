"""The database: the tables (models.py, their column types in types.py) and the caches'
versions with the session listeners that keep them (versions.py).

Importing the package registers those listeners, whichever of its modules is imported
first: no write through the session can miss them.
"""

from db import versions  # noqa: F401
