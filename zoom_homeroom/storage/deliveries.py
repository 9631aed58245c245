"""Webhook deliveries exactly as Zoom sent them, stored before the 2xx, and how each was processed."""

from __future__ import annotations

import datetime as dt

from ..core.models import Delivery
from ..core.times import to_utc_text
from .db import Connection


class DeliveryStore(Connection):
    """The raw deliveries: stored durably by the webhook view, processed later by `services.intake`."""

    def store_delivery(self, delivery: Delivery) -> int | None:
        """Insert a raw delivery; None when the same body was stored before (an exact replay).

        Call inside `write(durable=True)`: the caller answers Zoom once this commits.
        """
        cursor = self.db.execute(
            "INSERT INTO webhook_deliveries (digest, event, received_at, request_timestamp, request_id, "
            "body, zoom_meeting_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
            [
                delivery.digest,
                delivery.event,
                to_utc_text(delivery.received_at),
                delivery.request_timestamp,
                delivery.request_id,
                delivery.body,
                delivery.zoom_meeting_id,
            ],
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def mark_delivery(
        self, delivery_id: int, outcome: str, *, now: dt.datetime, error: str | None = None
    ) -> None:
        """Record how a delivery was processed; an `error` leaves it pending for a later retry."""
        processed_at = None if outcome == "error" else to_utc_text(now)
        self.db.execute(
            "UPDATE webhook_deliveries SET processed_at = ?, outcome = ?, error = ? WHERE id = ?",
            [processed_at, outcome, error, delivery_id],
        )

    def pending_deliveries(
        self, *, limit: int = 500, after_id: int = 0, retry_errors: bool = True
    ) -> list[tuple[int, str]]:
        """(id, body) of stored deliveries not processed yet, oldest first; without `retry_errors`,
        only those never tried (a delivery whose processing failed waits for the next start-up)."""
        return [
            (row["id"], row["body"])
            for row in self.db.query(
                "SELECT id, body FROM webhook_deliveries WHERE processed_at IS NULL AND id > ? "
                "AND (? OR outcome IS NULL) ORDER BY id LIMIT ?",
                [after_id, retry_errors, limit],
            )
        ]

    def requeue_unknown_meeting_deliveries(self, zoom_meeting_id: str) -> int:
        """Make deliveries for a meeting we did not know pending again (it is known now)."""
        with self.write():
            return self.db.execute(
                "UPDATE webhook_deliveries SET processed_at = NULL, outcome = NULL "
                "WHERE outcome = 'unknown_meeting' AND zoom_meeting_id = ?",
                [zoom_meeting_id],
            ).rowcount

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by outcome ('pending' for unprocessed), for reports and health pages."""
        counts: dict[str, int] = {}
        for row in self.db.query(
            "SELECT coalesce(outcome, 'pending') AS outcome, processed_at IS NULL AS waiting, count(*) AS n "
            "FROM webhook_deliveries GROUP BY 1, 2"
        ):
            key = "pending" if row["waiting"] else row["outcome"]
            counts[key] = counts.get(key, 0) + row["n"]
        return counts

    def unknown_meetings(self) -> list[tuple[str, int, str]]:
        """(zoom meeting id, deliveries, latest received) for events of meetings we do not know."""
        return [
            (row["zoom_meeting_id"] or "?", row["n"], row["latest"])
            for row in self.db.query(
                "SELECT zoom_meeting_id, count(*) AS n, max(received_at) AS latest FROM webhook_deliveries "
                "WHERE outcome = 'unknown_meeting' GROUP BY zoom_meeting_id ORDER BY latest DESC"
            )
        ]
