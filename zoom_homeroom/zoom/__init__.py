"""The only code that speaks HTTP to Zoom: `make_client(settings)` and the errors it raises."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..clock import Clock, Sleep
from .auth import ZoomAuth
from .client import ZoomClient
from .errors import (
    ZoomAccountDailyLimit,
    ZoomAPIError,
    ZoomAuthError,
    ZoomConnectionError,
    ZoomDailyLimitExceeded,
    ZoomError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomRegistrantDailyLimit,
    ZoomRegistrationNotEnabled,
    ZoomServerError,
)

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "ZoomAPIError",
    "ZoomAccountDailyLimit",
    "ZoomAuth",
    "ZoomAuthError",
    "ZoomClient",
    "ZoomConnectionError",
    "ZoomDailyLimitExceeded",
    "ZoomError",
    "ZoomNotFound",
    "ZoomRateLimited",
    "ZoomRegistrantDailyLimit",
    "ZoomRegistrationNotEnabled",
    "ZoomServerError",
    "make_client",
]


def make_client(settings: Settings, *, sleep: Sleep = time.sleep, clock: Clock | None = None) -> ZoomClient:
    """A ZoomClient for the configured account; ConfigError names any unset credential."""
    settings.require_zoom()
    auth = ZoomAuth(
        account_id=settings.zoom_account_id or "",
        client_id=settings.zoom_client_id or "",
        client_secret=settings.zoom_client_secret or "",
        token_url=settings.zoom_oauth_token_url,
        sleep=sleep,
        clock=clock,
    )
    return ZoomClient(auth, base_url=settings.zoom_api_url, sleep=sleep, clock=clock)
