"""POST /webhooks/zoom (built by the attendance issue)."""
