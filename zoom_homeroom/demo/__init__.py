"""The demo: a realistic sample cohort and a whole Wednesday played on the built-in Zoom sandbox."""
