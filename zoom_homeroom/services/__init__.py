"""Use cases: what the entry points (web, webhooks, CLI, scheduler, demo) ask of the service."""
