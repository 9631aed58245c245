"""Inbound Zoom events and nothing else: `POST /webhooks/zoom`.

The blueprint is served by the web app's lean intake app (`web/app.py`), not the dashboard's.
"""

from .routes import bp

__all__ = ["bp"]
