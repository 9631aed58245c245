"""Inbound Zoom events and nothing else: `POST /webhooks/zoom`.

The blueprint is served by the web app's lean intake app (`web/app.py`), not the dashboard's.
"""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from . import routes  # noqa: E402,F401  (registers the views on bp)
