"""Another app of site A, which imports site A's mysite package."""
from mysite.asgi import app  # noqa: F401
