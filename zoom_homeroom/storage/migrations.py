"""The database schema, as append-only sqlite-utils migrations. Never edit one that has shipped.

Conventions: Zoom identifiers are TEXT exactly as received; times are ISO-8601 UTC text
(`2027-01-06T20:00:00Z`); local dates are `YYYY-MM-DD` text; booleans are 0/1.
"""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database, Migrations

migrations = Migrations("zoom_homeroom")


def _script(db: Database, sql: str) -> None:
    """Run statements one by one (executescript would commit the migration's transaction)."""
    statement = ""
    for line in (sql + ";").splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                db.execute(statement)
            statement = ""


@migrations()
def m001_roster(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE students (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,          -- lower-cased
            name TEXT NOT NULL,
            module INTEGER NOT NULL,
            program TEXT NOT NULL,
            group_number INTEGER NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX students_module ON students (module, active, group_number);
        -- Other emails (lower-cased) and Zoom display names (normalised) a student uses.
        CREATE TABLE student_aliases (
            student_id INTEGER NOT NULL REFERENCES students (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'name')),
            alias TEXT NOT NULL,
            original TEXT NOT NULL,
            PRIMARY KEY (student_id, kind, alias)
        );
        CREATE INDEX student_aliases_alias ON student_aliases (kind, alias);
        -- Every change of group: added (from NULL), moved, deactivated (to NULL).
        CREATE TABLE group_moves (
            id INTEGER PRIMARY KEY,
            student_id INTEGER NOT NULL REFERENCES students (id),
            module INTEGER NOT NULL,
            from_group INTEGER,
            to_group INTEGER,
            moved_on TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX group_moves_student ON group_moves (student_id, id)
        """,
    )


@migrations()
def m002_meetings_and_sessions(db: Database) -> None:
    _script(
        db,
        """
        -- One Zoom meeting we own: a module's recurring series or a week's Mix It Up meeting.
        CREATE TABLE meetings (
            key TEXT PRIMARY KEY,                -- homeroom:1:2027-01-04 | mix_it_up:2027-01-13
            kind TEXT NOT NULL CHECK (kind IN ('homeroom', 'mix_it_up')),
            module INTEGER,
            host TEXT NOT NULL,
            zoom_meeting_id TEXT NOT NULL,
            join_url TEXT,
            spec TEXT NOT NULL,                  -- JSON of the last body Zoom accepted
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX meetings_zoom_id ON meetings (zoom_meeting_id);
        -- One planned occurrence: what attendance is counted against.
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,            -- homeroom:1:2027-01-06 | mix_it_up:2027-01-13
            kind TEXT NOT NULL CHECK (kind IN ('homeroom', 'mix_it_up')),
            module INTEGER,
            week INTEGER NOT NULL,
            date TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            end_utc TEXT NOT NULL,
            meeting_key TEXT REFERENCES meetings (key),
            occurrence_id TEXT,
            zoom_uuid TEXT,                      -- the held instance, once known
            ended_at TEXT,                       -- from meeting.ended or the report
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'final')),
            final_at TEXT,
            backfill_attempts INTEGER NOT NULL DEFAULT 0,
            backfill_error TEXT,
            dirty INTEGER NOT NULL DEFAULT 1     -- attendance must be recomputed
        );
        CREATE INDEX sessions_meeting ON sessions (meeting_key, date);
        -- Who was expected, in which room: frozen from the roster when the session is synced.
        CREATE TABLE session_members (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            student_id INTEGER NOT NULL REFERENCES students (id),
            group_number INTEGER NOT NULL,
            PRIMARY KEY (session_id, student_id)
        );
        -- Create/update calls per host and UTC day: Zoom allows 100.
        CREATE TABLE zoom_write_calls (
            host TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (host, day)
        );
        -- Cross-process locks (two syncs at once must not create two meetings).
        CREATE TABLE locks (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )
        """,
    )


@migrations()
def m003_attendance(db: Database) -> None:
    _script(
        db,
        """
        -- Raw webhook deliveries, stored before the 2xx answer. digest = sha256 of the body.
        CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY,
            digest TEXT NOT NULL UNIQUE,
            event TEXT NOT NULL,
            received_at TEXT NOT NULL,
            request_timestamp INTEGER,
            request_id TEXT,
            body TEXT NOT NULL,
            zoom_meeting_id TEXT,
            processed_at TEXT,
            outcome TEXT,                        -- ok | ignored | unknown_meeting | error
            error TEXT
        );
        CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (processed_at)
            WHERE processed_at IS NULL;
        CREATE INDEX webhook_deliveries_outcome ON webhook_deliveries (outcome, zoom_meeting_id);
        -- Join and leave edges from webhooks and reports; intervals are paired per connection.
        CREATE TABLE presence (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            source TEXT NOT NULL,                -- webhook | report | past_participants
            connection TEXT NOT NULL,            -- one device's stay (Zoom participant id)
            room TEXT NOT NULL DEFAULT '',       -- '' main meeting, else breakout room uuid
            edge TEXT NOT NULL CHECK (edge IN ('join', 'leave')),
            at TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            zoom_user_id TEXT NOT NULL DEFAULT '',
            UNIQUE (session_id, source, connection, room, edge, at)
        );
        -- A rep's decision about a Zoom identity, remembered for later sessions.
        -- student_id NULL: not a student (staff, guest).
        CREATE TABLE participant_matches (
            key_kind TEXT NOT NULL CHECK (key_kind IN ('zoom_user_id', 'name', 'email')),
            key TEXT NOT NULL,
            student_id INTEGER REFERENCES students (id),
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (key_kind, key)
        );
        -- Computed attendance, one row per expected student and session.
        CREATE TABLE attendance (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            student_id INTEGER NOT NULL REFERENCES students (id),
            group_number INTEGER NOT NULL,
            status TEXT NOT NULL,
            computed_status TEXT NOT NULL,
            minutes INTEGER NOT NULL,
            first_join TEXT,
            last_leave TEXT,
            in_assigned_room INTEGER,
            PRIMARY KEY (session_id, student_id)
        );
        CREATE INDEX attendance_student ON attendance (student_id);
        -- Zoom participants that no rule matched, with likely candidates for a rep.
        CREATE TABLE unmatched_participants (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            ident TEXT NOT NULL,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            zoom_user_id TEXT NOT NULL,
            minutes INTEGER NOT NULL,
            first_join TEXT,
            candidates TEXT NOT NULL,            -- JSON list of student ids, best first
            reason TEXT NOT NULL,
            PRIMARY KEY (session_id, ident)
        );
        -- A rep's word on one student and session; wins over the computed status.
        CREATE TABLE overrides (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            student_id INTEGER NOT NULL REFERENCES students (id),
            status TEXT NOT NULL CHECK (status IN ('excused', 'present')),
            note TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL,
            PRIMARY KEY (session_id, student_id)
        )
        """,
    )


@migrations()
def m004_users(db: Database) -> None:
    _script(
        db,
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'rep')),
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            token_hash TEXT NOT NULL UNIQUE,     -- sha256 hex; the token itself is never stored
            created_at TEXT NOT NULL,
            last_used_at TEXT
        );
        CREATE TABLE sign_in_failures (
            key TEXT NOT NULL,                   -- the email or the client address
            at TEXT NOT NULL
        );
        CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at)
        """,
    )


@migrations()
def m005_mix_it_up(db: Database) -> None:
    _script(
        db,
        """
        -- A week's Mix It Up is keyed by its date, so each cycle's week 2 is its own.
        CREATE TABLE poll_answers (
            miu_date TEXT NOT NULL,
            week INTEGER NOT NULL,
            student_id INTEGER NOT NULL REFERENCES students (id),
            topic TEXT NOT NULL,
            rank INTEGER NOT NULL,
            PRIMARY KEY (miu_date, student_id, rank)
        );
        CREATE TABLE mixitup_formations (
            miu_date TEXT PRIMARY KEY,
            week INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            quality TEXT NOT NULL,               -- JSON
            formed_at TEXT NOT NULL
        );
        CREATE TABLE mixitup_groups (
            miu_date TEXT NOT NULL REFERENCES mixitup_formations (miu_date) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            topic TEXT NOT NULL,
            PRIMARY KEY (miu_date, number)
        );
        CREATE TABLE mixitup_members (
            miu_date TEXT NOT NULL REFERENCES mixitup_formations (miu_date) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            student_id INTEGER NOT NULL REFERENCES students (id),
            PRIMARY KEY (miu_date, student_id)
        )
        """,
    )


@migrations()
def m006_presence_by_instance(db: Database) -> None:
    """Presence edges keyed by instance, with what ties a person's stays together.

    Zoom's user_ids restart in every instance and change at every room move, so an edge needs its
    instance, its connection's participant_uuid and, for a breakout stay, its parent user_id; the old
    table had none of them. Report rows stored so far are kept as they were (they carried no rooms).
    Webhook edges are rebuilt: stored deliveries keep the whole body, so they are made pending again and
    the next processing run (any read, the scheduler's minute, start-up) turns them into edges anew.
    Every session's attendance is recomputed then.
    """
    _script(
        db,
        """
        CREATE TABLE presence_by_instance (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            source TEXT NOT NULL,                -- webhook | report | past_participants
            instance TEXT NOT NULL DEFAULT '',   -- the meeting instance's uuid ('' for rows stored before)
            connection TEXT NOT NULL,            -- Zoom's user_id: of the stay, or of the report row
            room TEXT NOT NULL DEFAULT '',       -- '' main meeting; breakout_room_uuid, or a report's bo_mtg_id
            edge TEXT NOT NULL CHECK (edge IN ('join', 'leave')),
            at TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            zoom_user_id TEXT NOT NULL DEFAULT '',
            participant_uuid TEXT NOT NULL DEFAULT '',  -- one device's connection across its room moves
            parent TEXT NOT NULL DEFAULT '',     -- breakout stays: the main-meeting user_id (parent_user_id)
            UNIQUE (session_id, source, instance, connection, room, edge, at)
        );
        INSERT INTO presence_by_instance (session_id, source, connection, room, edge, at, name, email, zoom_user_id)
            SELECT session_id, source, connection, room, edge, at, name, email, zoom_user_id
            FROM presence WHERE source <> 'webhook';
        DROP TABLE presence;
        ALTER TABLE presence_by_instance RENAME TO presence;
        -- Each held instance of a session and when it ended: open stays close at their own instance's end.
        CREATE TABLE session_instances (
            session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            uuid TEXT NOT NULL,
            ended_at TEXT,
            PRIMARY KEY (session_id, uuid)
        );
        UPDATE webhook_deliveries SET processed_at = NULL, outcome = NULL, error = NULL
            WHERE outcome IN ('ok', 'invalid');
        UPDATE sessions SET dirty = dirty + 1
        """,
    )


@migrations()
def m007_registrations(db: Database) -> None:
    """Zoom registration (`[sessions] registration`): students' personal join links and registrant ids.

    A registration row is kept after a cancel and after its meeting is re-created in Zoom, so that
    presence edges carrying an old registrant id still name their student. Presence edges get the
    registrant id they carried. Nothing stored before has one: no registration existed.
    """
    _script(
        db,
        """
        -- One registrant id Zoom issued a student for one Zoom meeting, with the personal join link.
        CREATE TABLE registrations (
            id INTEGER PRIMARY KEY,
            meeting_key TEXT NOT NULL REFERENCES meetings (key),
            zoom_meeting_id TEXT NOT NULL,       -- the Zoom meeting registered for (a re-created one is new)
            student_id INTEGER NOT NULL REFERENCES students (id),
            email TEXT NOT NULL,                 -- as registered, lower-cased
            registrant_id TEXT NOT NULL,
            join_url TEXT NOT NULL,              -- '' when Zoom sent none
            status TEXT NOT NULL CHECK (status IN ('approved', 'cancelled')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (zoom_meeting_id, registrant_id)
        );
        CREATE INDEX registrations_current ON registrations (meeting_key, zoom_meeting_id, status);
        CREATE INDEX registrations_student ON registrations (student_id);
        -- The Zoom meeting whose registrants the stored rows were last known to equal. No row (or
        -- another meeting id): unknown, so the next sync reads Zoom's list before writing.
        CREATE TABLE registration_checks (
            meeting_key TEXT PRIMARY KEY REFERENCES meetings (key),
            zoom_meeting_id TEXT NOT NULL,
            checked_at TEXT NOT NULL
        );
        -- Registrations sent per Zoom meeting, email and UTC day: Zoom refuses a 4th.
        CREATE TABLE registrant_calls (
            zoom_meeting_id TEXT NOT NULL,
            email TEXT NOT NULL,
            day TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (zoom_meeting_id, email, day)
        );
        ALTER TABLE presence ADD COLUMN registrant_id TEXT NOT NULL DEFAULT '';
        CREATE INDEX presence_registrant ON presence (registrant_id) WHERE registrant_id <> ''
        """,
    )


@migrations()
def m008_attendance_outside_the_write_lock(db: Database) -> None:
    """Attendance computed outside the write lock, suggestions made at read time, stored evidence capped.

    A session's `attendance_version` counts the computations saved, so a slow one never stores its older
    result over a newer one (see `AttendanceStore.save_attendance`). An unmatched participant keeps only
    the students it matched elsewhere (`matched_elsewhere`); likely students are suggested when a page
    shows it. Names, emails and ids of edges stored before every source capped them are cut as the
    service now cuts them (64, 254 and 128 characters: `core.matching`); an email too long to be one is
    dropped. Every session is recomputed.
    """
    _script(
        db,
        """
        ALTER TABLE sessions ADD COLUMN attendance_version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE unmatched_participants RENAME COLUMN candidates TO matched_elsewhere;
        UPDATE unmatched_participants SET matched_elsewhere = '[]';
        UPDATE presence SET name = substr(trim(name), 1, 64) WHERE length(name) > 64;
        UPDATE presence SET email = '' WHERE length(email) > 254;
        UPDATE OR REPLACE presence SET connection = substr(connection, 1, 128), room = substr(room, 1, 128),
            instance = substr(instance, 1, 128), zoom_user_id = substr(zoom_user_id, 1, 128),
            participant_uuid = substr(participant_uuid, 1, 128), parent = substr(parent, 1, 128),
            registrant_id = substr(registrant_id, 1, 128)
            WHERE max(length(connection), length(room), length(instance), length(zoom_user_id),
                      length(participant_uuid), length(parent), length(registrant_id)) > 128;
        UPDATE sessions SET dirty = dirty + 1
        """,
    )


@migrations()
def m009_user_sessions(db: Database) -> None:
    """Dashboard sign-ins kept server-side, so signing out (or removing a user, or changing their
    password) ends a session even for a copy of its cookie. The cookie carries a random session id;
    only its sha256 is stored."""
    _script(
        db,
        """
        CREATE TABLE user_sessions (
            id_hash TEXT PRIMARY KEY,            -- sha256 hex of the session id in the signed cookie
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX user_sessions_user ON user_sessions (user_id)
        """,
    )


@migrations()
def m010_slack(db: Database) -> None:
    """What the Slack app posted and received: polls and their picks, channel messages, the groups'
    direct messages, and the signatures of requests already seen. Poll answers say where they came from."""
    _script(
        db,
        """
        -- A week's Mix It Up poll in Slack: its message, topics and whether it is closed.
        CREATE TABLE slack_polls (
            miu_date TEXT PRIMARY KEY,
            week INTEGER NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,                    -- the poll message (chat.update needs channel and ts)
            topics TEXT NOT NULL,                -- JSON list, as posted
            ranks INTEGER NOT NULL,              -- how many choices the poll asks for
            opened_at TEXT NOT NULL,
            closed_at TEXT,                      -- picks received from then on are refused
            closed_hash TEXT                     -- the closed message last shown in Slack
        );
        -- Students' picks, stored before Slack gets its 200 and applied right after.
        CREATE TABLE slack_picks (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            user_id TEXT NOT NULL,
            team_id TEXT,
            miu_date TEXT NOT NULL,
            week INTEGER NOT NULL,
            rank INTEGER NOT NULL,
            topic TEXT,                          -- NULL: the student cleared the menu
            channel TEXT NOT NULL,
            message_ts TEXT NOT NULL,
            response_url TEXT,                   -- for the private reply; forgotten once processed
            processed_at TEXT,
            outcome TEXT                         -- saved | not_student | closed | unknown_poll | unknown_topic | failed
        );
        CREATE INDEX slack_picks_pending ON slack_picks (processed_at) WHERE processed_at IS NULL;
        -- One channel message per (kind, key): the groups of a week, a session's prompt, a day's digest.
        CREATE TABLE slack_messages (
            kind TEXT NOT NULL CHECK (kind IN ('groups', 'prompt', 'digest')),
            key TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            content_hash TEXT NOT NULL,          -- what it shows now: unchanged content is not sent again
            posted_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        );
        -- The direct message each student got with their Mix It Up group.
        CREATE TABLE slack_dms (
            miu_date TEXT NOT NULL,
            student_id INTEGER NOT NULL REFERENCES students (id),
            slack_user_id TEXT NOT NULL,
            channel TEXT NOT NULL,               -- the DM channel (conversations.open)
            ts TEXT,                             -- NULL: Slack did not answer, the DM may not have arrived
            group_number INTEGER NOT NULL,
            content_hash TEXT NOT NULL,          -- the group, topic and join link it told
            sent_at TEXT NOT NULL,
            PRIMARY KEY (miu_date, student_id)
        );
        -- Signatures of Slack requests already received, kept while Slack's five-minute window lasts.
        CREATE TABLE slack_replays (
            signature TEXT PRIMARY KEY,
            keep_until TEXT NOT NULL
        );
        CREATE INDEX slack_replays_keep ON slack_replays (keep_until);
        ALTER TABLE poll_answers ADD COLUMN source TEXT NOT NULL DEFAULT 'csv' CHECK (source IN ('csv', 'slack'));
        ALTER TABLE poll_answers ADD COLUMN answered_at TEXT
        """,
    )
