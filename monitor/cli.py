"""Command line: inbox-monitor run | migrate | check-config [--online] | accounts [lookup] | recompute | mark |
explain | labels | ..."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import click

from monitor import __version__, logs
from monitor.config import Config, ConfigError, DatabaseConfig, load, parse_duration
from monitor.domain.figures import DEFAULT_HOURS

EXIT_CONFIG = 2
GIVE_A_CONFIG = "give one with --config FILE or $INBOX_MONITOR_CONFIG (config.example.toml shows every section)"


class _Context:
    def __init__(self, config_path: str | None, from_env: bool) -> None:
        self.config_path = config_path
        self.from_env = from_env
        """The path is $INBOX_MONITOR_CONFIG's (the errors say so)."""

    def config(self, *, last_demo: bool = True) -> Config:
        """Load the configuration or exit with status 2, listing every problem. Given none, the
        last demo's when `last_demo` (commands that read the stored data), else exit 2."""
        path = self.config_path
        if path is None:
            from monitor.demo_runs import latest_config

            found = latest_config() if last_demo else None
            if found is None:
                _no_configuration(last_demo)
            click.echo(f"no configuration given: reading the last demo's, {found}", err=True)
            path = str(found)
        try:
            config = load(None if self.from_env else path)
        except ConfigError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_CONFIG)
        _register_secrets(config)
        return config

    def database(self) -> DatabaseConfig:
        """The configuration's database; given none, the default one (no account is needed)."""
        if self.config_path is None:
            database = DatabaseConfig()
            logs.register_secret(database.url())
            return database
        return self.config().database


def _no_configuration(last_demo: bool) -> None:
    """Exit 2: no configuration, and how to give one (or see it work with the demo)."""
    command = click.get_current_context().info_name
    if command == "run":
        text = (
            "error: no configuration. `inbox-monitor run` polls the accounts a configuration file lists: "
            f"{GIVE_A_CONFIG}.\nTo see it work first, without credentials: inbox-monitor demo"
        )
    elif last_demo:
        text = (
            f"error: no configuration: {GIVE_A_CONFIG}, or run `inbox-monitor demo` first "
            "(the commands run after it read its data)"
        )
    else:
        text = f"error: no configuration: {GIVE_A_CONFIG}, or see it work first with `inbox-monitor demo`"
    click.echo(text, err=True)
    sys.exit(EXIT_CONFIG)


def _register_secrets(config: Config) -> None:
    """Read every configured secret once (`$NAME` or `$NAME_FILE`), so that no output shows it."""
    from monitor.secrets import EnvSecret

    for model in [account for _, account in config.accounts()] + [config.server.webhooks, config.server.api]:
        for name, value in model:
            if name.endswith("_env") and isinstance(value, str):
                EnvSecret(value).get()  # registers what it reads
    logs.register_secret(config.database.url())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    envvar="INBOX_MONITOR_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML configuration file (default: $INBOX_MONITOR_CONFIG). Without one, `run` refuses to "
    "start and the commands that read stored data use the last demo's.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
)
@click.option("--log-format", default="logfmt", show_default=True, type=click.Choice(["logfmt", "json"]))
@click.version_option(__version__, prog_name="inbox-monitor")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str, log_format: str) -> None:
    """Social inbox response-time monitor for X and Facebook Pages."""
    logs.setup(log_level, log_format)
    from_env = ctx.get_parameter_source("config_path") is click.core.ParameterSource.ENVIRONMENT
    ctx.obj = _Context(config_path, from_env)


@main.command("check-config")
@click.option(
    "--online",
    is_flag=True,
    help="Also call each API once per account and stream with its credentials and report ok, rejected, "
    "missing permission, rate-limited or unreachable (exit status 1 when one fails). Nothing is stored: "
    "no database is needed.",
)
@click.option("--account", "accounts", multiple=True, help="With --online: only this account (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def check_config(obj: _Context, online: bool, accounts: tuple[str, ...], fmt: str) -> None:
    """Validate the configuration; list every problem with its location (exit status 2)."""
    config = obj.config(last_demo=False)
    n, peers = len(config.accounts()), len(config.peers())
    summary = (
        f"configuration OK: {len(config.brands)} brand(s), {n} account(s), {peers} peer(s), "
        f"{len(config.policies)} policy(ies)"
    )
    if not online:
        click.echo(summary)
        return
    from monitor import online as checks

    known = [a.name for _, a in config.accounts()]
    if unknown := [a for a in accounts if a not in known]:
        raise click.BadParameter(
            f"no account named {', '.join(map(repr, unknown))} (known: {', '.join(known)})", param_hint="--account"
        )
    click.echo(summary, err=fmt == "json")
    if fmt == "text":
        click.echo("calling each API once per account and stream, with its credentials:")
    results = asyncio.run(checks.check_streams(config, accounts))
    click.echo(checks.render_json(results) if fmt == "json" else checks.render_text(results), nl=False)
    if any(not r.result.ok for r in results):
        sys.exit(1)


@main.group("x-activity")
def x_activity() -> None:
    """The X Activity API subscriptions of the X accounts with `x_activity` on (docs/webhooks.md)."""


def _subscriptions(obj: _Context, action: str, accounts: tuple[str, ...], fmt: str) -> None:
    from monitor.sources.x import subscriptions as subs

    config = obj.config(last_demo=False)
    known = [a.name for _, a in config.accounts()]
    if unknown := [a for a in accounts if a not in known]:
        raise click.BadParameter(
            f"no account named {', '.join(map(repr, unknown))} (known: {', '.join(known)})", param_hint="--account"
        )
    act: subs.Action = "subscribe" if action == "subscribe" else "list" if action == "list" else "unsubscribe"
    results = asyncio.run(subs.manage(config, act, accounts))
    click.echo(subs.render_json(results) if fmt == "json" else subs.render_text(act, results), nl=False)
    if subs.failed(act, results):
        sys.exit(1)


_ACCOUNT_OPTION = click.option("--account", "accounts", multiple=True, help="Only this account (repeatable).")
_FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


@x_activity.command("subscribe")
@_ACCOUNT_OPTION
@_FORMAT_OPTION
@click.pass_obj
def x_activity_subscribe(obj: _Context, accounts: tuple[str, ...], fmt: str) -> None:
    """Create the subscriptions each account needs and lacks (run it again: nothing changes)."""
    _subscriptions(obj, "subscribe", accounts, fmt)


@x_activity.command("list")
@_ACCOUNT_OPTION
@_FORMAT_OPTION
@click.pass_obj
def x_activity_list(obj: _Context, accounts: tuple[str, ...], fmt: str) -> None:
    """Show which needed subscriptions exist (exit status 1 when one is missing)."""
    _subscriptions(obj, "list", accounts, fmt)


@x_activity.command("unsubscribe")
@_ACCOUNT_OPTION
@_FORMAT_OPTION
@click.pass_obj
def x_activity_unsubscribe(obj: _Context, accounts: tuple[str, ...], fmt: str) -> None:
    """Delete the accounts' subscriptions of the event types this monitor uses."""
    _subscriptions(obj, "unsubscribe", accounts, fmt)


@main.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="Where to serve HTTP (default: the configuration's server.listen, 127.0.0.1:9464).",
)
@click.pass_obj
def run(obj: _Context, duration: float | None, listen: str | None) -> None:
    """Poll every account, keep waits up to date, serve /metrics, until SIGTERM or Ctrl-C."""
    from monitor.app import run as run_app
    from monitor.config import ServerConfig

    if listen is not None:
        try:
            ServerConfig(listen=listen)
        except ValueError:
            raise click.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen") from None
    config = obj.config(last_demo=False)
    if listen is not None:
        server = ServerConfig.model_validate({**config.server.model_dump(), "listen": listen})
        config = config.model_copy(update={"server": server})
    _database_errors(_run_until_signal)(lambda stop: run_app(config, stop), duration)


@main.command()
@click.pass_obj
def migrate(obj: _Context) -> None:
    """Apply the pending database migrations."""
    from monitor.database import open_store
    from monitor.store.db import migrate as apply

    database = obj.database()

    async def go() -> list[str]:
        async with open_store(database) as store:
            return await apply(store.pool)

    applied = _database_errors(asyncio.run)(go())
    click.echo("applied: " + ", ".join(applied) if applied else "database schema is up to date")


@main.group(invoke_without_command=True)
@click.pass_context
def accounts(ctx: click.Context) -> None:
    """List the configured accounts and the state of their last polls; `accounts lookup` finds the
    ids of a new one."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.database import open_store, register

    config = ctx.obj.config()

    async def go() -> list[Any]:
        async with open_store(config) as store:
            await register(config, store)
            return list(await store.account_states())

    rows = _database_errors(asyncio.run)(go())
    header = ("BRAND", "ACCOUNT", "CHANNEL", "STREAM", "STATUS", "LAST SUCCESS", "FAILURES", "OPEN WAITS")
    table = [header] + [
        (
            r["brand"],
            r["name"],
            r["channel"],
            r["stream"] or "-",
            r["status"] or "never polled",
            r["last_success_at"].isoformat(timespec="seconds") if r["last_success_at"] else "-",
            str(r["consecutive_failures"] or 0),
            str(r["open_waits"]),
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    for r in rows:
        if r["last_error"]:
            click.echo(f"{r['name']}/{r['stream']}: {logs.redact(r['last_error'])}")  # stored before redaction


@accounts.command("lookup")
@click.argument("target")
@click.option(
    "--account", "account_name", default=None, help="Use the credentials of this configured account (same channel)."
)
@click.option(
    "--token-env",
    default=None,
    metavar="NAME",
    help="Use the token in this environment variable (or in the file named by NAME_FILE): the X app's "
    "bearer token, or a Facebook Page (or user) access token. No configuration needed.",
)
@click.option(
    "--app-secret-env",
    default=None,
    metavar="NAME",
    help="With --token-env on Facebook: the app secret's variable (adds appsecret_proof).",
)
@click.option(
    "--api-base-url",
    default=None,
    metavar="URL",
    help="Send the call to another host (a proxy, the local fake APIs); default: the account's, else the API's.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def accounts_lookup(
    obj: _Context,
    target: str,
    account_name: str | None,
    token_env: str | None,
    app_secret_env: str | None,
    api_base_url: str | None,
    fmt: str,
) -> None:
    """Find the ids to put in the configuration: TARGET is an X handle (@acme, https://x.com/acme)
    or a Facebook Page (https://www.facebook.com/acme, facebook.com/profile.php?id=N, a Page's
    username or id). Exit status 2 for bad input, 1 when the API says no."""
    import re

    from monitor.lookup import (
        Credentials,
        CredentialsError,
        TargetError,
        account_credentials,
        accounts_of,
        failure_text,
        lookup,
        missing_credentials,
        parse_target,
        render_json,
        render_text,
    )
    from monitor.runtime import utcnow
    from monitor.sources.base import SourceError

    try:
        wanted = parse_target(target)
    except TargetError as exc:
        raise click.BadParameter(str(exc), param_hint="TARGET") from None
    for name, value in (("--token-env", token_env), ("--app-secret-env", app_secret_env)):
        if value is not None and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) is None:
            raise click.BadParameter(f"{value!r} is not an environment variable's name", param_hint=name)
    if api_base_url is not None and re.fullmatch(r"https?://[^\s/]+/?", api_base_url) is None:
        raise click.BadParameter(f"{api_base_url!r} is not http(s)://HOST[:PORT]", param_hint="--api-base-url")
    if account_name is not None and token_env is not None:
        raise click.UsageError("give --account or --token-env, not both")
    try:
        if account_name is not None:
            credentials = account_credentials(obj.config(last_demo=False), account_name, wanted)
        elif token_env is not None:
            credentials = Credentials(token_env, f"--token-env {token_env}", None, app_secret_env)
        else:
            candidates = accounts_of(obj.config(last_demo=False), wanted.channel) if obj.config_path else []
            raise CredentialsError(missing_credentials(wanted, candidates))
        if api_base_url is not None:
            credentials = Credentials(
                credentials.token_env,
                credentials.origin,
                api_base_url,
                credentials.app_secret_env,
                credentials.graph_api_version,
            )
        found = asyncio.run(lookup(wanted, credentials))
    except CredentialsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except SourceError as exc:
        click.echo(f"error: {failure_text(exc, wanted, credentials, utcnow())}", err=True)
        sys.exit(1)
    click.echo(render_json(found) if fmt == "json" else render_text(found), nl=False)


class _Since(click.ParamType[datetime, object]):
    """A UTC date (`2026-01-01`, `2026-01-01T08:00:00`) or an age back from now (`2d`, `12h`)."""

    name = "date|age"
    _dates = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        text = str(value).strip()
        try:
            return self._dates.convert(text, param, ctx).replace(tzinfo=UTC)
        except click.BadParameter:
            pass
        try:
            return datetime.now(UTC) - parse_duration(text)
        except ValueError:
            self.fail(f"{text!r} is neither a date (2026-01-01, 2026-01-01T08:00:00) nor an age (2d, 12h)", param, ctx)


@main.command()
@click.option(
    "--since",
    required=True,
    type=_Since(),
    help="Recompute the waits of threads with messages since this UTC date (2026-01-01) or age (2d).",
)
@click.pass_obj
def recompute(obj: _Context, since: datetime) -> None:
    """Recompute stored waits with the current policies (after a policy change)."""
    from monitor.app import open_store, prepare

    config = obj.config()

    async def go() -> int:
        async with open_store(config) as store:
            engine, _ = await prepare(config, store)
            return await engine.recompute_since(since)

    click.echo(f"recomputed {_database_errors(asyncio.run)(go())} thread(s)")


@main.command()
@click.argument("message", metavar="URL|ID")
@click.option("--needs-reply", "label", flag_value="needs_reply", help="It needs a reply, whatever the rules say.")
@click.option("--no-reply", "label", flag_value="no_reply", help="It needs no reply, whatever the rules say.")
@click.option("--rules", "label", flag_value="rules", help="Give it back to the rules (undo a correction).")
@click.option("--note", default=None, help="Why (kept with the correction).")
@click.option("--account", "account", default=None, help="The account, when the id is in several.")
@click.option("--by", default=None, help="Who corrects (default: $USER).")
@click.pass_obj
def mark(obj: _Context, message: str, label: str | None, note: str | None, account: str | None, by: str | None) -> None:
    """Correct whether an inbound message needs a reply; its thread's waits are recomputed at once."""
    from monitor.app import open_store, prepare
    from monitor.corrections import CorrectionError, decision_words
    from monitor.corrections import mark as correct
    from monitor.explain import explain_text
    from monitor.store.labels import thread_view

    if label is None:
        raise click.UsageError("say what it is: --needs-reply, --no-reply or --rules")
    config = obj.config()
    who = by or _user()

    async def go() -> str:
        async with open_store(config) as store:
            engine, _ = await prepare(config, store)
            c = await correct(
                engine, message, {"needs_reply": True, "no_reply": False}.get(label), by=who, note=note, account=account
            )
            view = await thread_view(store.pool, c.message.thread_id)
        return (
            f"{c.message.account} {c.message.external_id}: {decision_words(*c.old)} → {decision_words(*c.new)}"
            f"\n\n{explain_text(view, c.message.external_id)}"
        )

    try:
        click.echo(_database_errors(asyncio.run)(go()), nl=False)
    except CorrectionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _user() -> str:
    """Who runs the command: $USER, else the login of this uid."""
    import getpass
    import os

    try:
        return os.environ.get("USER") or str(getpass.getuser())
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"


@main.command()
@click.argument("message", metavar="URL|ID")
@click.option("--account", "account", default=None, help="The account, when the id is in several.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def explain(obj: _Context, message: str, account: str | None, fmt: str) -> None:
    """Show a message's thread: each message's decision and why, and the waits it gave."""
    from monitor.app import open_store, prepare
    from monitor.corrections import CorrectionError, resolve
    from monitor.explain import explain_json, explain_text
    from monitor.store.labels import thread_view

    config = obj.config()

    async def go() -> str:
        async with open_store(config) as store:
            engine, _ = await prepare(config, store)
            found = await resolve(engine, message, account)
            view = await thread_view(store.pool, found.thread_id)
        render = explain_json if fmt == "json" else explain_text
        return render(view, found.external_id)

    try:
        click.echo(_database_errors(asyncio.run)(go()), nl=False)
    except CorrectionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


@main.group()
def labels() -> None:
    """People's corrections of question decisions."""


@labels.command("export")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable; default: all).")
@click.option("--out", default="-", show_default=True, help="File to write (- for standard output).")
@click.pass_obj
def labels_export(obj: _Context, accounts: tuple[str, ...], out: str) -> None:
    """Write the corrections as a labelled TSV (label, lang, text) for scripts/question_eval.py --data."""
    from monitor.app import open_store, prepare
    from monitor.corrections import labels_tsv
    from monitor.store.labels import labelled

    config = obj.config()
    known = [a.name for _, a in config.accounts()]
    if unknown := [a for a in accounts if a not in known]:
        raise click.BadParameter(
            f"no account named {', '.join(map(repr, unknown))} (known: {', '.join(known)})", param_hint="--account"
        )

    async def go() -> str:
        async with open_store(config) as store:
            _, ids = await prepare(config, store)
            return labels_tsv(await labelled(store.pool, [ids[a] for a in accounts or known]))

    text = _database_errors(asyncio.run)(go())
    if out == "-":
        click.echo(text, nl=False)
    else:
        with Path(out).open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        rows = sum(1 for line in text.splitlines() if not line.startswith("#")) - 1  # the header
        click.echo(f"wrote {out}: {rows} correction(s)", err=True)


def _instant(value: str | None) -> datetime | None:
    """An ISO 8601 instant from the command line (no offset: UTC), or a usage error naming it."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an instant such as 2026-12-05T10:35:57Z") from None
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if at > datetime.now(UTC):
        raise click.BadParameter(f"{value} is in the future")
    return at


def _database_errors(func: Any) -> Any:
    """Turn a PostgreSQL that cannot be reached into one clear line and exit status 1."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import asyncpg

        from monitor.store.embedded import DataDirInUse

        try:
            return func(*args, **kwargs)
        except DataDirInUse as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            detail = logs.redact(f"{type(exc).__name__}: {exc}")
            click.echo(f"error: cannot connect to PostgreSQL or it failed: {detail}", err=True)
            sys.exit(1)

    return wrapper


def _run_until_signal(make: Any, duration: float | None) -> None:
    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        await make(stop)

    asyncio.run(go())


@main.command()
@click.option(
    "--account", "account_name", required=True, help="The X account to backfill (its name in the configuration)."
)
@click.option(
    "--since",
    "since",
    required=True,
    help="How far back to read, e.g. 7d, 36h, 90m (the X API keeps the newest 800 "
    "mentions, 3,200 tweets and 30 days of DMs).",
)
@click.pass_obj
def backfill(obj: _Context, account_name: str, since: str) -> None:
    """Read an X account's mentions, replies and DMs back to --since into the store.

    The live cursor is left where it is: running pollers are not disturbed.
    """
    from monitor.backfill import run_backfill
    from monitor.sources.base import SourceError

    try:
        age = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    config = obj.config(last_demo=False)  # it calls the X API: the demo's is gone
    names = [a.name for _, a in config.accounts() if a.channel == "x"]
    if account_name not in names:
        raise click.BadParameter(
            f"no X account named {account_name!r} (known: {', '.join(names) or 'none'})", param_hint="--account"
        )
    shares: dict[str, float] = {}
    with click.progressbar(length=1000, label=f"backfilling {account_name}", file=sys.stderr) as bar:

        def progress(stream: str, share: float) -> None:
            shares[stream] = share
            done = int(1000 * sum(shares.values()) / 3)
            bar.update(max(0, done - bar.pos))

        try:
            result = _database_errors(asyncio.run)(run_backfill(config, account_name, age, progress=progress))
        except SourceError as exc:
            click.echo(f"\nerror: {logs.redact(str(exc))}", err=True)
            sys.exit(1)
        bar.update(1000 - bar.pos)
    click.echo(
        f"backfilled {account_name}: {result.messages} message(s) read in {result.pages} "
        f"page(s), {result.new_messages} new"
    )


def _account_ids(config: Config, name: str | None, ids: dict[str, int]) -> list[int]:
    """The id of the account `name` (all the configured accounts when None); a clear error when
    no account has that name."""
    names = [a.name for _, a in config.accounts()]
    if name is None:
        return [ids[n] for n in names]
    if name not in names:
        raise click.BadParameter(
            f"no account named {name!r} (known: {', '.join(names) or 'none'})", param_hint="--account"
        )
    return [ids[name]]


def _check_account(config: Config, name: str | None) -> None:
    """Refuse an unknown account name before the database is opened."""
    _account_ids(config, name, {a.name: 0 for _, a in config.accounts()})


@main.group(invoke_without_command=True)
@click.option("--account", "account_name", default=None, help="Only this account (its name in the configuration).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Items to list, newest first.")
@click.option("--resolved", is_flag=True, help="Also list the items a retry has resolved.")
@click.option(
    "--raw", "show_raw", is_flag=True, help="Also print each item's raw payload (customers' messages: personal data)."
)
@click.pass_context
def quarantine(ctx: click.Context, account_name: str | None, limit: int, resolved: bool, show_raw: bool) -> None:
    """List the items set aside: malformed items of an API page, kept apart so that the rest of the
    page is stored and the stream goes on. `quarantine retry` parses them again after an upgrade."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.app import open_store, prepare
    from monitor.store.quarantine import QuarantinedItem, QuarantineStore

    config = ctx.obj.config()
    _check_account(config, account_name)

    async def go() -> list[QuarantinedItem]:
        async with open_store(config) as store:
            _, ids = await prepare(config, store)
            wanted = _account_ids(config, account_name, ids) if account_name else None
            return await QuarantineStore(store.pool).recent(wanted, limit=limit, resolved=resolved)

    items = _database_errors(asyncio.run)(go())
    if not items:
        click.echo("no item in quarantine")
        return
    header = ("RECEIVED", "ACCOUNT", "STREAM", "ITEM", "REASON", "STATUS", "DETAIL")
    table = [header] + [
        (
            i.received_at.astimezone(UTC).isoformat(timespec="seconds"),
            i.account,
            i.stream,
            i.external_id or "-",
            i.reason,
            "resolved" if i.resolved_at else ("retried" if i.retried_at else "new"),
            i.detail,
        )
        for i in items
    ]
    widths = [max(len(row[c]) for row in table) for c in range(len(header) - 1)]
    for n, row in enumerate(table):
        click.echo("  ".join([v.ljust(w) for v, w in zip(row, widths, strict=False)] + [row[-1]]))
        if show_raw and n > 0:
            click.echo("    raw: " + json.dumps(items[n - 1].raw, ensure_ascii=False))


@quarantine.command("retry")
@click.option("--account", "account_name", default=None, help="Only this account (default: all of them).")
@click.pass_context
def quarantine_retry(ctx: click.Context, account_name: str | None) -> None:
    """Parse the items set aside again with this version; store those that now parse (resolved),
    keep the others with the reason this version gives."""
    from monitor.app import open_store, prepare
    from monitor.quarantine import RetryResult, retry
    from monitor.store.quarantine import QuarantineStore

    account_name = account_name or (ctx.parent.params.get("account_name") if ctx.parent else None)
    config = ctx.obj.config()
    _check_account(config, account_name)

    async def go() -> RetryResult:
        async with open_store(config) as store:
            engine, ids = await prepare(config, store)
            wanted = set(_account_ids(config, account_name, ids))
            accounts = {ids[a.name]: a for _, a in config.accounts() if ids[a.name] in wanted}
            return await retry(engine, QuarantineStore(store.pool), accounts)

    result = _database_errors(asyncio.run)(go())
    still = sum(result.still.values())
    line = (
        f"retried {result.retried} item(s): {result.resolved} resolved ({result.messages_new} new message(s)), "
        f"{still} still set aside"
    )
    if still:
        line += " (" + ", ".join(f"{reason}: {n}" for reason, n in sorted(result.still.items())) + ")"
    click.echo(line)


@main.command()
@click.option("--period", default="this-month", show_default=True, help="this-month, last-month, YYYY-MM (UTC days).")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable; default: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def cost(obj: _Context, period: str, accounts: tuple[str, ...], fmt: str) -> None:
    """Estimated X API spend per account over a period, and per answered question (docs/cost.md)."""
    from monitor.app import open_store, prepare
    from monitor.reports.period import PeriodError, parse_period
    from monitor.spending import account_costs, cost_text

    config = obj.config()
    try:
        p = parse_period(period, now=datetime.now(UTC), timezone="UTC")
    except PeriodError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    unknown = sorted(set(accounts) - {a.name for _, a in config.accounts()})
    if unknown:
        raise click.BadParameter(f"no account named {', '.join(unknown)} in the configuration", param_hint="--account")

    async def go() -> str:
        async with open_store(config) as store:
            await prepare(config, store)
            costs = await account_costs(
                store.pool, config.x.pricing.prices(), p.first_day, p.last_day, list(accounts) or None
            )
        if fmt == "json":
            return (
                json.dumps(
                    [
                        {
                            "brand": c.brand,
                            "account": c.account,
                            "resources": c.counts,
                            "dollars": c.dollars,
                            "answered_questions": c.answered,
                            "dollars_per_answered_question": c.per_answered,
                        }
                        for c in costs
                    ],
                    indent=2,
                )
                + "\n"
            )
        return cost_text(costs, p.first_day, p.last_day)

    click.echo(_database_errors(asyncio.run)(go()), nl=False)


@main.command()
@click.option(
    "--period",
    default=None,
    help="last-7-days (default), last-week, last-month, this-week, this-month, last-30-days, YYYY-MM or YYYY-Www.",
)
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day of the period (with --to; both days are included).",
)
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day of the period.")
@click.option("--brand", "brands", multiple=True, help="Only this brand (repeatable; default: all).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html", "csv", "json"]), default="pdf", show_default=True)
@click.option(
    "--out",
    default=None,
    help="File or directory to write (default: ./sla-report-PERIOD.FORMAT; - for standard output).",
)
@click.option("--language", type=click.Choice(["fr", "en"]), default="en", show_default=True)
@click.option(
    "--hours",
    type=click.Choice(["wall", "business"]),
    default=DEFAULT_HOURS,
    show_default=True,
    help="Response times in wall time (what the customer waited) or in business hours of the policies' "
    "calendars (wall time where a policy has none). The SLA figures always use each policy's own clock.",
)
@click.option(
    "--timezone", default=None, help="Time zone of the period's days (default: the policies' calendar zone, else UTC)."
)
@click.option(
    "--as-of",
    "as_of",
    default=None,
    callback=lambda ctx, param, value: _instant(value),
    help="Make the report as it was at this instant (ISO 8601, e.g. 2026-12-05T10:35:57Z; default: now): "
    "a reply after it has not come yet, a deadline after it has not passed.",
)
@click.pass_obj
def report(
    obj: _Context,
    period: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    brands: tuple[str, ...],
    fmt: str,
    out: str | None,
    language: str,
    hours: str,
    timezone: str | None,
    as_of: datetime | None,
) -> None:
    """Make an SLA report (PDF, HTML, CSV or JSON) from the stored waits."""
    from monitor.reports.command import ReportOptions, run_report_command
    from monitor.reports.model import Language
    from monitor.store.reports import Hours

    config = obj.config()
    options = ReportOptions(
        period,
        date_from.date() if date_from else None,
        date_to.date() if date_to else None,
        brands,
        fmt,
        out,
        cast("Language", language),  # click.Choice(["fr", "en"]) checked it
        cast("Hours", hours),  # click.Choice(["business", "wall"]) checked it
        timezone,
        as_of,
    )
    path = run_report_command(config, options, run=_database_errors(asyncio.run))
    if path is not None:
        click.echo(f"wrote {path}", err=True)


@main.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop after this many (real) seconds (default: until Ctrl-C).",
)
@click.option(
    "--speed",
    type=click.FloatRange(1, 600),
    default=60.0,
    show_default=True,
    help="Simulated seconds per real second: reply delays, polls and SLA targets are divided by it "
    "(60: one simulated minute per second, the 30-minute X target is 30 s).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the simulated traffic.")
@click.option(
    "--listen",
    default="127.0.0.1:9464",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve /metrics, /healthz and /readyz.",
)
@click.option(
    "--with-prometheus",
    is_flag=True,
    help="Also run Prometheus (with deploy/prometheus/rules) and Alertmanager on loopback and show "
    "the Slack messages they send (needs the prometheus and prometheus-alertmanager binaries).",
)
@click.option(
    "--plain",
    is_flag=True,
    default=None,
    help="Plain periodic lines instead of the live view (the default when stdout is not a terminal).",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Go on with the last demo's data (its open waits stay open) instead of starting afresh.",
)
@click.pass_obj
def demo(
    obj: _Context,
    duration: float | None,
    speed: float,
    seed: int,
    listen: str,
    with_prometheus: bool,
    plain: bool | None,
    keep: bool,
) -> None:
    """Run the real monitor on simulated X and Facebook traffic, with a live view of waits and breaches.

    Local fake X and Graph APIs serve French and English customers' questions; the brand answers
    after realistic delays, or never; the Facebook token expires and is rotated halfway. The data
    goes to a directory of its own for each run (with --keep, the last run's), with an embedded
    PostgreSQL unless --config or $INBOX_MONITOR_DATABASE_URL names a database; the commands run
    after it with no --config (`inbox-monitor report`) read the last demo's data.
    """
    from monitor.config import ServerConfig
    from monitor.demo import DemoError, DemoOptions, prometheus_available, run_demo

    try:
        ServerConfig(listen=listen)
    except ValueError:
        raise click.BadParameter(f"{listen!r} is not HOST:PORT", param_hint="--listen") from None
    if with_prometheus and not prometheus_available():
        click.echo(
            "warning: --with-prometheus needs the prometheus and prometheus-alertmanager binaries "
            "(apt-get install prometheus prometheus-alertmanager); running without them",
            err=True,
        )
        with_prometheus = False
    options = DemoOptions(
        speed=speed,
        seed=seed,
        listen=listen,
        with_prometheus=with_prometheus,
        database=obj.config(last_demo=False).database if obj.config_path else None,
        keep=keep,
        plain=True if plain else None,
    )
    try:
        _database_errors(_run_until_signal)(lambda stop: run_demo(options, stop), duration)
    except DemoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
