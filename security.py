"""Rate limiting of the login form (Redis-backed when REDIS_URL is set)."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])
