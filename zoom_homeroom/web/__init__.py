"""The web entry point: the app factory, per-request accessors, sign-in, pages, the API, charts."""
