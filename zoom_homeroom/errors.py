"""User-facing errors: one base, `HomeroomError`, carrying its problems (one line each).

    HomeroomError (.problems, .lines(), .http_status = 400)      core/errors.py
    ├── NotFoundError (404)                                     core/errors.py
    ├── ConfigError: settings and the calendar file             settings.py
    ├── CalendarError                                           core/calendar.py
    ├── CsvProblems > RosterError, PollError                    core/roster.py, core/poll.py
    ├── PlanningError > MeetingLimitError                       core/planning.py, core/meetings.py
    ├── FormationError                                          core/formation/problem.py
    ├── StorageError: the database cannot be used               storage/db.py
    ├── SyncError                                               services/sync.py
    ├── CorrectionError: a rep's correction cannot be made      services/attendance.py
    ├── MixItUpError                                            services/mixitup.py
    └── PasswordError                                           services/users.py

The CLI group turns any of them into its lines and exit status 1 (`cli/__init__.py`); the web app into
a page or JSON with the error's status (`web/app.py`). The base lives in `core`, so that core's own
errors derive from it while core imports nothing outside itself; this module is where the rest of the
code takes it from. Errors that are not a person's to fix (`ZoomError`, a verification failure, a
broken invariant in `core.attendance`) are not HomeroomErrors.
"""

from .core.errors import HomeroomError, NotFoundError

__all__ = ["HomeroomError", "NotFoundError"]
