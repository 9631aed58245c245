"""Schema migrations applied to a database that already holds data."""

from __future__ import annotations

import datetime as dt
import json

from tests.factories import utc
from tests.webhook_bodies import participant_event, store_known_session
from zoom_homeroom.core.models import Delivery
from zoom_homeroom.services.intake import process_pending
from zoom_homeroom.storage import Storage, connect
from zoom_homeroom.storage.migrations import migrations


def test_presence_by_instance_rebuilds_webhook_edges_from_the_stored_deliveries(tmp_path, calendar):
    path = tmp_path / "homeroom.db"
    old = connect(path)
    migrations.apply(old, stop_before="m006_presence_by_instance")
    old.close()
    storage = Storage.open(path, migrate=False)
    try:
        session = store_known_session(storage, now=utc("2027-01-05 12:00"))
        body = participant_event()  # Ada joins at 20:01 as user 16778240 of instance 4444AAAiAAAAAiAiAiiAii==
        raw = json.dumps(body)
        with storage.write():
            delivery = storage.store_delivery(
                Delivery(
                    digest="d1",
                    event=body["event"],
                    received_at=utc("2027-01-06 20:01"),
                    request_timestamp=1799265660,
                    request_id=None,
                    body=raw,
                    zoom_meeting_id="85746065432",
                )
            )
            storage.mark_delivery(delivery, "ok", now=utc("2027-01-06 20:01"))
            # What the old code stored: the webhook edge without its instance, and a report row.
            storage.db.execute(
                "INSERT INTO presence (session_id, source, connection, room, edge, at, name, email, zoom_user_id) "
                "VALUES (?, 'webhook', '16778240', '', 'join', '2027-01-06T20:01:00Z', 'Ada Lovelace', "
                "'ada@students.example.org', ''), (?, 'report', '16778240@2027-01-06T20:01:00Z', '', 'join', "
                "'2027-01-06T20:01:00Z', 'Ada Lovelace', '', '')",
                [session.id, session.id],
            )
            storage.db.execute("UPDATE sessions SET dirty = 0")

        # m006 and the registrations' column that reading presence needs; later migrations recompute
        # every session again, which would hide what m006 itself did.
        migrations.apply(storage.db, stop_before="m008_attendance_outside_the_write_lock")
        assert storage.schema_version()[-2:] == ["m006_presence_by_instance", "m007_registrations"]

        kept = storage.presence(session.id)
        assert [(edge.source, edge.instance, edge.connection) for edge in kept] == [
            ("report", "", "16778240@2027-01-06T20:01:00Z")
        ]
        assert storage.pending_deliveries(retry_errors=False) == [(delivery, raw)]
        assert storage.dirty_count(session.id) == 1

        assert process_pending(storage, calendar, now=utc("2027-01-06 22:00")) == 1
        webhook = [edge for edge in storage.presence(session.id) if edge.source == "webhook"]
        assert [(e.instance, e.connection, e.participant_uuid, e.kind) for e in webhook] == [
            ("4444AAAiAAAAAiAiAiiAii==", "16778240", "p-16778240", "join")
        ]
    finally:
        storage.close()


def test_registrations_keep_every_stored_edge_with_no_registrant_id(tmp_path):
    path = tmp_path / "homeroom.db"
    old = connect(path)
    migrations.apply(old, stop_before="m007_registrations")
    old.close()
    storage = Storage.open(path, migrate=False)
    try:
        session = store_known_session(storage, now=utc("2027-01-05 12:00"))
        with storage.write():
            storage.db.execute(
                "INSERT INTO presence (session_id, source, instance, connection, room, edge, at, name) "
                "VALUES (?, 'webhook', 'i-1', '16778240', '', 'join', '2027-01-06T20:01:00Z', 'iPhone')",
                [session.id],
            )

        assert "m007_registrations" in storage.migrate()

        (edge,) = storage.presence(session.id)
        assert (edge.connection, edge.identity.name, edge.identity.registrant_id) == (
            "16778240",
            "iPhone",
            "",
        )
        assert storage.registrant_ids() == []
        assert storage.registrations_checked(session.meeting_key) is None
    finally:
        storage.close()


def test_slack_keeps_the_poll_answers_imported_before_it_as_imported(tmp_path):
    path = tmp_path / "homeroom.db"
    old = connect(path)
    migrations.apply(old, stop_before="m010_slack")
    old.execute(
        "INSERT INTO students (email, name, module, program, group_number, created_at, updated_at) "
        "VALUES ('ada@students.example.org', 'Ada', 1, 'FE', 1, 'x', 'x')"
    )
    old.execute("INSERT INTO poll_answers VALUES ('2027-01-13', 2, 1, 'Open source', 1)")
    old.close()
    storage = Storage.open(path, migrate=False)
    try:
        assert storage.migrate()[0] == "m010_slack"  # and any later ones
        assert storage.poll_respondents(dt.date(2027, 1, 13)) == {"csv": 1}
        assert storage.poll_answers(dt.date(2027, 1, 13)) == {1: ["Open source"]}
    finally:
        storage.close()
