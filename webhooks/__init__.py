"""Inbound Zoom events and nothing else: `POST /webhooks/zoom`."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from . import routes  # noqa: E402,F401  (registers the views on bp)
