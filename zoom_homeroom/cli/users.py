"""`homeroom user` (who may sign in to the dashboard) and `homeroom token` (API tokens for /api/)."""

from __future__ import annotations

import re
import sys

import click

from ..core.matching import normalise_email
from ..core.models import ROLES
from ..core.text import printable
from ..core.times import to_utc_text
from ..runtime import Runtime
from ..services.exports import table_text
from ..services.users import hash_password, hash_token, new_token
from .group import cli, pass_runtime

TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@cli.group("user")
def user_group() -> None:
    """Manage who may sign in to the dashboard (admins and reps)."""


@user_group.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin (also sees Users) or rep.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)
@pass_runtime
def add_user(runtime: Runtime, email: str, role: str, password_stdin: bool) -> None:
    """Add a user, or set an existing user's role and password (which signs them out everywhere)."""
    email = normalise_email(email)
    if not EMAIL.fullmatch(email):
        raise click.ClickException(f"{email!r} is not an email address")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    password_hash = hash_password(password)
    created = runtime.storage.save_user(email, role, password_hash, now=runtime.now())
    click.echo(printable(f"{'added' if created else 'updated'} {role} {email}"))


@user_group.command("remove")
@click.argument("email")
@pass_runtime
def remove_user(runtime: Runtime, email: str) -> None:
    """Remove a user; their sessions stop working at once."""
    if not runtime.storage.remove_user(email):
        raise click.ClickException(f"no user {normalise_email(email)!r} (see `homeroom user list`)")
    click.echo(printable(f"removed {normalise_email(email)}"))


@user_group.command("list")
@pass_runtime
def list_users(runtime: Runtime) -> None:
    """List users and their roles."""
    users = runtime.storage.users()
    if not users:
        click.echo("no users yet: add one with `homeroom user add EMAIL --role admin`")
        return
    rows = [{"email": u.email, "role": u.role, "created": to_utc_text(u.created_at)} for u in users]
    click.echo(table_text(rows, ("email", "role", "created")))


@cli.group("token")
def token_group() -> None:
    """Manage API tokens (sent as `Authorization: Bearer <token>` to /api/)."""


@token_group.command("create")
@click.argument("name")
@pass_runtime
def create_token(runtime: Runtime, name: str) -> None:
    """Create a token called NAME and print it once; only its hash is stored."""
    if not TOKEN_NAME.fullmatch(name):
        raise click.ClickException(
            "a token name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit"
        )
    token = new_token()
    if not runtime.storage.add_token(name, hash_token(token), now=runtime.now()):
        raise click.ClickException(f"a token named {name!r} exists: revoke it first or choose another name")
    click.echo(f"created API token {name!r}. It is shown only now: store it in a secret manager.")
    click.echo("Send it as the header `Authorization: Bearer <token>`. The token:")
    click.echo(token)


@token_group.command("list")
@pass_runtime
def list_tokens(runtime: Runtime) -> None:
    """List token names and when they were created and last used (never the tokens)."""
    tokens = runtime.storage.tokens()
    if not tokens:
        click.echo("no API tokens: create one with `homeroom token create NAME`")
        return
    rows = [
        {
            "name": t.name,
            "created": to_utc_text(t.created_at),
            "last_used": to_utc_text(t.last_used_at) if t.last_used_at else "never",
        }
        for t in tokens
    ]
    click.echo(table_text(rows, ("name", "created", "last_used")))


@token_group.command("revoke")
@click.argument("name")
@pass_runtime
def revoke_token(runtime: Runtime, name: str) -> None:
    """Revoke the token called NAME: requests with it are refused from now on."""
    if not runtime.storage.remove_token(name):
        raise click.ClickException(f"no token named {name!r} (see `homeroom token list`)")
    click.echo(f"revoked {name}")
