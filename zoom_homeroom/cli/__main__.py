"""`python -m zoom_homeroom.cli`: the same as the `homeroom` command."""

from . import cli

cli(prog_name="homeroom")
