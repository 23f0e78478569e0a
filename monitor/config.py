"""Configuration: one TOML file, validated as a whole, every problem reported with its location.

Secrets never live in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import platformdirs
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from monitor.domain.agents import App, Attribution, Member, SignatureError, compile_signature, roster_for
from monitor.domain.calendar import ALWAYS_OPEN, Calendar
from monitor.domain.cost import Prices
from monitor.domain.model import CHANNELS, Channel
from monitor.domain.questions import QuestionRules
from monitor.domain.sla import Policy, PriorityRule, Targets
from monitor.reports.settings import ReportSchedules

ENV_CONFIG = "INBOX_MONITOR_CONFIG"
DEFAULT_DATABASE_URL_ENV = "INBOX_MONITOR_DATABASE_URL"

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(value: object) -> timedelta:
    """`30m`, `1h30m`, `2d`, `45s`, `1.5h` or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30m' or '1h30m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            raise ValueError(f"{value!r} is not a duration such as '30m', '1h30m', '2d' or '45s'")
        d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = d * 86400 + h * 3600 + m * 60 + s
    else:
        raise ValueError("expected a duration such as '30m' or '1h30m'")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Model):
    url_env: EnvName = DEFAULT_DATABASE_URL_ENV
    """Environment variable holding the PostgreSQL URL; when it is unset, PostgreSQL is embedded."""
    data_dir: Path | None = None
    """Data directory of the embedded PostgreSQL (default: the user's data directory)."""
    pool_min_size: int = Field(1, ge=1)
    pool_max_size: int = Field(10, ge=1)

    def url(self, environ: Mapping[str, str] = os.environ) -> str | None:
        """$url_env, or the content of the file named by $url_env_FILE (a mounted secret)."""
        from monitor.secrets import EnvSecret

        return EnvSecret(self.url_env, environ).get()

    def embedded_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir.expanduser()
        return data_home() / "pgdata"


def data_home() -> Path:
    """The user's data directory of inbox-monitor (`~/.local/share/inbox-monitor`)."""
    return Path(platformdirs.user_data_dir("inbox-monitor"))


class WebhooksConfig(_Model):
    """Webhook deliveries that make a stream poll now (docs/webhooks.md). Secrets are read from the
    environment (`$NAME` or the file named by `$NAME_FILE`) at each delivery."""

    facebook_verify_token_env: EnvName | None = None
    """The verify token typed in the Meta app's Webhooks settings (checked once, at subscription)."""
    facebook_app_secret_env: EnvName | None = None
    """The app secret that signs deliveries, when the accounts' `app_secret_env` do not name it."""
    x_consumer_secret_env: EnvName | None = None
    """The X app's API key secret: it signs the CRC answers and checks the deliveries' signatures."""


class ApiConfig(_Model):
    """The HTTP API of `inbox-monitor run` (POST /api/messages/{id}/label): off until a token is set."""

    token_env: EnvName | None = None
    """Environment variable holding the bearer token that callers send (`$NAME` or `$NAME_FILE`)."""


class ServerConfig(_Model):
    listen: str = Field("127.0.0.1:9464", pattern=r"^[^\s:]*:\d{1,5}$")
    snapshot_interval: Duration = timedelta(seconds=10)
    lease_time: Duration = timedelta(seconds=30)
    """Processes sharing a database split the accounts; a dead one's accounts move after this long."""
    webhooks: WebhooksConfig = WebhooksConfig()
    api: ApiConfig = ApiConfig()

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0] or "0.0.0.0"

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class TargetsConfig(_Model):
    first: Duration
    next: Duration


class ChannelTargetsConfig(_Model):
    channel: Channel
    kind: Literal["public", "private"]
    first: Duration
    next: Duration


class PriorityConfig(_Model):
    name: Name
    patterns: list[str] = []
    customers: list[str] = []
    first: Duration
    next: Duration


class HolidaysConfig(_Model):
    country: str
    subdiv: str | None = None


class CalendarConfig(_Model):
    timezone: str = "UTC"
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]]
    holidays: HolidaysConfig | None = None
    closed_dates: list[date] = []


class QuestionsConfig(_Model):
    extra_patterns: list[str] = []
    ignore_patterns: list[str] = []
    automatic_patterns: list[str] = []


class AgentsConfig(_Model):
    """How a policy's accounts tell which agent signed a reply (docs/agents.md)."""

    signatures: list[str] = []
    """Signature rules: regexes with a named group `(?P<agent>...)`, tried first, in order."""
    default_signatures: bool = True
    """Also try the common forms (`^JD`, `^Jen`, `-Bettina`, `–Jeh`, `/AB` at the end of a reply)."""
    roster_only: bool = False
    """Count only the signatures that the roster (`[[agents]]`) lists."""


class PolicyConfig(_Model):
    public: TargetsConfig
    private: TargetsConfig
    channels: list[ChannelTargetsConfig] = []
    calendar: CalendarConfig | None = None
    business_hours_only: bool = True
    at_risk_share: float = Field(0.8, gt=0, lt=1)
    priority: list[PriorityConfig] = []
    questions: QuestionsConfig = QuestionsConfig()
    dm_closes_public: bool = False
    """A brand's private message to a customer (a DM, Messenger) also closes that customer's open
    public waits on the same account (a comment answered in private)."""
    agents: AgentsConfig = AgentsConfig()


Label = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f]+$")]
"""A name shown in reports and dashboards: one line, at most 80 characters."""


class RosterEntry(_Model):
    """One person of the roster (`[[agents]]`): the signatures they use -> their name and team."""

    name: Label
    signatures: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1)
    """What they sign with, as the signature rules capture it ("JD", "Jen"): case does not matter."""
    team: Label | None = None
    brands: list[str] = []
    """The brands whose replies they sign (default: every brand)."""


class AppConfig(_Model):
    """An application that sends a Page's messages (`[[apps]]`), known by its Meta app id."""

    app_id: str = Field(pattern=r"^\d{1,20}$")
    name: Label
    automatic: bool = False
    """Its replies are a bot's: they never close a wait."""


MAX_PRICE = 10.0
"""Dollars per resource at most: X's prices are fractions of a cent, a larger one is a typo."""
MAX_MONTHLY_BUDGET = 1_000_000.0
"""Dollars a month at most: beyond, X's pay-per-use cap of 3 million post reads is passed anyway."""


class XPricingConfig(_Model):
    """Dollars per billed resource; the defaults are X's published prices (docs/cost.md)."""

    post_read: float = Field(0.005, ge=0, le=MAX_PRICE)
    owned_read: float = Field(0.001, ge=0, le=MAX_PRICE)
    dm_event_read: float = Field(0.010, ge=0, le=MAX_PRICE)
    activity_post_event: float = Field(0.005, ge=0, le=MAX_PRICE)
    activity_dm_event: float = Field(0.010, ge=0, le=MAX_PRICE)

    def prices(self) -> Prices:
        return Prices(**self.model_dump())


class XConfig(_Model):
    pricing: XPricingConfig = XPricingConfig()


class _AccountBase(_Model):
    name: Name
    handle: str | None = None
    source: Literal["api", "demo"] = "api"
    poll_interval: Duration = timedelta(seconds=60)
    policy: str = "default"
    api_base_url: str | None = Field(None, pattern=r"^https?://[^\s/]+/?$")
    """Send the API calls to another host (a proxy, or the local fake APIs in tests)."""
    demo_per_minute: float = Field(2.0, gt=0, le=100000)
    """With source = "demo": questions per minute of generated traffic."""
    demo_seed: int = 1
    ID_FIELD: ClassVar[str] = ""
    """The field that holds the platform's id of the account."""

    @property
    def external_id(self) -> str:
        """The platform's id of the account (what the accounts table and webhooks name it by)."""
        return str(getattr(self, self.ID_FIELD))


class XActivityConfig(_Model):
    """The X Activity API for an X account (docs/webhooks.md, "X Activity API"): its events make
    the account's streams poll now; the polls stay the one way messages come in."""

    mode: Literal["stream", "webhook", "off"] = "stream"
    """`stream`: the persistent stream this monitor opens (no public URL needed); `webhook`: X
    delivers to /webhooks/x; `off`: polls only."""
    webhook_id: str | None = Field(None, pattern=r"^[0-9]{1,19}$")
    """With `mode = "webhook"` (and only then): the id of the webhook registered for /webhooks/x
    (`GET /2/webhooks` lists it), which `x-activity subscribe` names in each subscription."""


class XAccount(_AccountBase):
    ID_FIELD: ClassVar[str] = "user_id"
    channel: Literal["x"]
    user_id: str = Field(pattern=r"^\d{1,20}$")
    bearer_token_env: EnvName | None = None
    dm: bool = False
    consumer_key_env: EnvName | None = None
    consumer_secret_env: EnvName | None = None
    access_token_env: EnvName | None = None
    access_token_secret_env: EnvName | None = None
    owned_reads: bool = True
    """X bills the account's mentions and timeline as "owned reads" (its own developer app reads
    them); false when another party's app reads them (billed as post reads). docs/cost.md."""
    monthly_budget: float | None = Field(None, gt=0, le=MAX_MONTHLY_BUDGET)
    """Dollars the account's X reads may cost in a UTC month: polls slow down before it is spent
    (never the stream), and SocialInboxXBudgetAtRisk fires."""
    x_activity: XActivityConfig | None = None
    """Absent: off. `[...x_activity]` alone turns the stream on."""

    def activity_mode(self) -> str:
        return "off" if self.x_activity is None else self.x_activity.mode


class GraphAccount(_AccountBase):
    """An account read through the Meta Graph API with a Page access token."""

    page_id: str = Field(pattern=r"^\d{1,25}$")
    page_token_env: EnvName | None = None
    app_secret_env: EnvName | None = None
    graph_api_version: str = Field("v23.0", pattern=r"^v\d+\.\d+$")
    ID_FIELD: ClassVar[str] = "page_id"


class FacebookAccount(GraphAccount):
    channel: Literal["facebook"]


class InstagramAccount(GraphAccount):
    """An Instagram professional account, read with the token of the Page it is linked to."""

    channel: Literal["instagram"]
    ig_user_id: str = Field(pattern=r"^\d{1,25}$")
    """The Instagram professional account's id (`instagram_business_account` of the Page)."""
    ID_FIELD: ClassVar[str] = "ig_user_id"


AnyAccount = XAccount | FacebookAccount | InstagramAccount
Account = Annotated[AnyAccount, Field(discriminator="channel")]

X_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
"""An X username, as the API's own `username` parameters check it (`^[A-Za-z0-9_]{1,15}$`)."""
PEER_MIN_READS = 10
"""A day's read budget below this cannot pay for one request: recent search asks 10 posts at least."""
PEER_MAX_READS = 100_000
"""Posts a peer may read a day at most: pay-per-use X plans stop at 3 million post reads a month,
about 100,000 a day; a larger budget is a typo, not a plan."""


def _x_handle(value: object) -> object:
    """`@rival` or `rival`: an X handle, without its @; anything else is refused, saying why."""
    if not isinstance(value, str):
        return value
    handle = value.removeprefix("@")
    if not X_HANDLE.fullmatch(handle):
        raise ValueError(f"{value!r} is not an X handle (1 to 15 letters, digits or underscores, with or without @)")
    return handle


class PeerConfig(_Model):
    """A competitor of the brand on X, compared with it in the report (docs/peers.md)."""

    handle: Annotated[str, BeforeValidator(_x_handle)]
    name: Name | None = None
    """What the report and the metrics call it (default: the handle, in lower case)."""
    user_id: str | None = Field(None, pattern=r"^\d{1,19}$")
    """The handle's X user id; looked up once by handle when not given."""
    daily_reads: int = Field(500, ge=PEER_MIN_READS, le=PEER_MAX_READS)
    """Posts read a UTC day at most (each post read is billed)."""
    poll_interval: Duration = timedelta(minutes=15)
    policy: str | None = None
    """The policy whose rules and targets apply (default: the brand's first X account's)."""
    bearer_token_env: EnvName | None = None
    """The X app's bearer token (default: the brand's first X account's)."""
    api_base_url: str | None = Field(None, pattern=r"^https?://[^\s/]+/?$")
    """Default: the brand's first X account's."""

    @property
    def label(self) -> str:
        """The peer's name in the report and the metrics."""
        return self.name or self.handle.lower()


@dataclass(frozen=True)
class Peer:
    """A configured peer with the brand's defaults filled in."""

    brand: str
    handle: str
    label: str
    user_id: str | None
    daily_reads: int
    poll_interval: timedelta
    policy: str
    bearer_token_env: str | None
    """None when the brand's X account is a demo one (generated traffic): the peer is not read."""
    api_base_url: str | None

    @property
    def account_name(self) -> str:
        """Its row in `accounts` (leases, poll state): a name no configured account can have."""
        from monitor.store.peers import peer_account_name

        return peer_account_name(self.brand, self.label)


class BrandConfig(_Model):
    name: Name
    accounts: list[Account] = Field(min_length=1)
    peers: list[PeerConfig] = []
    """Competitors on X, read with recent search within a daily budget (docs/peers.md)."""


class Config(_Model):
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    policies: dict[Name, PolicyConfig] = Field(min_length=1)
    brands: list[BrandConfig] = Field(min_length=1)
    reports: ReportSchedules = []
    """Scheduled reports (see monitor/reports/settings.py)."""
    agents: list[RosterEntry] = []
    """The roster: who signs replies with what (docs/agents.md)."""
    apps: list[AppConfig] = []
    """The apps that send replies, by Meta app id (docs/agents.md)."""
    x: XConfig = XConfig()
    """What X charges (`[x.pricing]`)."""

    def accounts(self) -> list[tuple[str, AnyAccount]]:
        """(brand, account) pairs in file order."""
        return [(b.name, a) for b in self.brands for a in b.accounts]

    def peers(self) -> list[Peer]:
        """Every brand's peers, in file order, the brand's first X account's settings as defaults."""
        out = []
        for b in self.brands:
            x = next((a for a in b.accounts if isinstance(a, XAccount)), None)
            out += [
                Peer(
                    brand=b.name,
                    handle=p.handle,
                    label=p.label,
                    user_id=p.user_id,
                    daily_reads=p.daily_reads,
                    poll_interval=p.poll_interval,
                    policy=p.policy or (x.policy if x else "default"),
                    bearer_token_env=p.bearer_token_env or (x.bearer_token_env if x else None),
                    api_base_url=p.api_base_url or (x.api_base_url if x else None),
                )
                for p in b.peers
            ]
        return out

    def policy(self, name: str) -> Policy:
        return _policy(name, self.policies[name])

    def attribution(self, brand: str, policy: str) -> Attribution:
        """How the replies of `brand`'s accounts under `policy` are attributed to agents and apps."""
        agents = self.policies[policy].agents
        return Attribution(
            signatures=tuple(agents.signatures),
            default_signatures=agents.default_signatures,
            roster_only=agents.roster_only,
            roster=roster_for(
                brand, ((Member(a.name, tuple(a.signatures), a.team), tuple(a.brands)) for a in self.agents)
            ),
            apps={a.app_id: App(a.app_id, a.name, a.automatic) for a in self.apps},
        )


def _policy(name: str, cfg: PolicyConfig) -> Policy:
    def targets(t: TargetsConfig | ChannelTargetsConfig | PriorityConfig) -> Targets:
        return Targets(first=t.first.total_seconds(), next=t.next.total_seconds())

    calendar = ALWAYS_OPEN
    if cfg.calendar is not None:
        c = cfg.calendar
        calendar = Calendar(
            tz=c.timezone,
            hours={day: tuple(periods) for day, periods in c.hours.items()},
            holidays_country=c.holidays.country if c.holidays else None,
            holidays_subdiv=c.holidays.subdiv if c.holidays else None,
            closed_dates=tuple(c.closed_dates),
        )
    return Policy(
        name=name,
        public=targets(cfg.public),
        private=targets(cfg.private),
        channel_targets=tuple((c.channel, c.kind, targets(c)) for c in cfg.channels),
        calendar=calendar,
        business_hours_only=cfg.business_hours_only and cfg.calendar is not None,
        at_risk_share=cfg.at_risk_share,
        priority_rules=tuple(
            PriorityRule(p.name, targets(p), tuple(p.patterns), tuple(p.customers)) for p in cfg.priority
        ),
        rules=QuestionRules(
            extra_patterns=tuple(cfg.questions.extra_patterns),
            ignore_patterns=tuple(cfg.questions.ignore_patterns),
            automatic_patterns=tuple(cfg.questions.automatic_patterns),
        ),
        dm_closes_public=cfg.dm_closes_public,
    )


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration, and where."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the configuration:\n{lines}")


def format_location(loc: tuple[str | int, ...]) -> str:
    """('brands', 0, 'accounts', 1, 'page_id') -> 'brands[0].accounts[1].page_id'."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(loc[i - 1], int) and i >= 2 and loc[i - 2] == "accounts" and (part in CHANNELS):
            continue  # the tag pydantic adds for the account's channel
        else:
            out += f".{part}" if out else str(part)
    return out


_CHANNEL_NAMES = ", ".join(f"'{c}'" for c in CHANNELS[:-1]) + f" or '{CHANNELS[-1]}'"


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    msg = msg.removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        msg = f"channel must be {_CHANNEL_NAMES} (got {error['ctx']['tag']!r})"
    elif error["type"] == "union_tag_not_found":
        msg = f"channel is required ({_CHANNEL_NAMES})"
    return msg[:1].lower() + msg[1:]


def _semantic_problems(data: Mapping[str, Any], environ: Mapping[str, str]) -> list[Problem]:
    """Checks across sections, made on the raw data so they add to the schema's own errors."""
    problems: list[Problem] = []
    policies = data.get("policies")
    policy_names = set(policies) if isinstance(policies, dict) else set()
    seen_accounts: dict[str, str] = {}
    seen_brands: dict[str, str] = {}
    brands = data.get("brands")
    for b, brand in enumerate(brands if isinstance(brands, list) else []):
        if not isinstance(brand, dict):
            continue
        bname = brand.get("name")
        if isinstance(bname, str):
            if bname in seen_brands:
                problems.append(Problem(f"brands[{b}].name", f"{bname!r} is already the name of {seen_brands[bname]}"))
            seen_brands.setdefault(bname, f"brands[{b}]")
        accounts = brand.get("accounts")
        for a, acc in enumerate(accounts if isinstance(accounts, list) else []):
            if not isinstance(acc, dict):
                continue
            where = f"brands[{b}].accounts[{a}]"
            name = acc.get("name")
            if isinstance(name, str):
                if name in seen_accounts:
                    problems.append(Problem(f"{where}.name", f"{name!r} is already the name of {seen_accounts[name]}"))
                seen_accounts.setdefault(name, where)
            policy = acc.get("policy", "default")
            if isinstance(policy, str) and policy_names and policy not in policy_names:
                known = ", ".join(sorted(policy_names))
                problems.append(Problem(f"{where}.policy", f"no policy named {policy!r} (known: {known})"))
            activity = acc.get("x_activity")
            on = isinstance(activity, dict) and activity.get("mode", "stream") != "off"
            if on and (acc.get("channel") != "x" or acc.get("source", "api") != "api"):
                problems.append(
                    Problem(f"{where}.x_activity", "needs an X account read from the API (channel x, source api)")
                )
            if isinstance(activity, dict):
                problems += _webhook_id_problems(activity, f"{where}.x_activity")
            if acc.get("source", "api") != "api":
                continue
            required: list[str] = []
            if acc.get("channel") == "x":
                required = ["bearer_token_env"]
                if acc.get("dm"):
                    required += [
                        "consumer_key_env",
                        "consumer_secret_env",
                        "access_token_env",
                        "access_token_secret_env",
                    ]
            elif acc.get("channel") in ("facebook", "instagram"):
                required = ["page_token_env"]
            for key in required:
                env = acc.get(key)
                if env is None:
                    problems.append(
                        Problem(
                            f"{where}.{key}",
                            "field required (the name of the environment variable that holds this secret)",
                        )
                    )
                elif isinstance(env, str) and not _secret_available(env, environ):
                    problems.append(Problem(f"{where}.{key}", f"environment variable {env} (or {env}_FILE) is not set"))
            secret = acc.get("app_secret_env")
            if isinstance(secret, str) and not _secret_available(secret, environ):
                problems.append(
                    Problem(f"{where}.app_secret_env", f"environment variable {secret} (or {secret}_FILE) is not set")
                )
        problems += _peer_problems(f"brands[{b}]", brand, policy_names, environ)
    for name, policy in policies.items() if isinstance(policies, dict) else []:
        cal = policy.get("calendar") if isinstance(policy, dict) else None
        if isinstance(cal, dict):
            try:
                holidays = cal.get("holidays") or {}
                Calendar(
                    tz=str(cal.get("timezone", "UTC")),
                    hours={k: tuple(v) for k, v in (cal.get("hours") or {}).items() if isinstance(v, list)},
                    holidays_country=holidays.get("country") if isinstance(holidays, dict) else None,
                    holidays_subdiv=holidays.get("subdiv") if isinstance(holidays, dict) else None,
                )
            except (ValueError, TypeError) as exc:
                problems.append(Problem(f"policies.{name}.calendar", str(exc)))
        questions = policy.get("questions") if isinstance(policy, dict) else None
        for key in ("extra_patterns", "ignore_patterns", "automatic_patterns"):
            pats = questions.get(key) if isinstance(questions, dict) else None
            problems += _regex_problems(f"policies.{name}.questions.{key}", pats)
        for i, prio in enumerate(policy.get("priority", []) if isinstance(policy, dict) else []):
            pats = prio.get("patterns") if isinstance(prio, dict) else None
            problems += _regex_problems(f"policies.{name}.priority[{i}].patterns", pats)
        agents = policy.get("agents") if isinstance(policy, dict) else None
        signatures = agents.get("signatures") if isinstance(agents, dict) else None
        problems += _signature_problems(f"policies.{name}.agents.signatures", signatures)
    problems += _roster_problems(data.get("agents"), set(seen_brands))
    problems += _app_problems(data.get("apps"))
    return problems


def _signature_problems(where: str, patterns: object) -> list[Problem]:
    problems = []
    for i, pattern in enumerate(patterns if isinstance(patterns, list) else []):
        if isinstance(pattern, str):
            try:
                compile_signature(pattern, i)
            except SignatureError as exc:
                problems.append(Problem(f"{where}[{i}]", f"{pattern!r}: {exc.message}"))
    return problems


def _roster_problems(entries: object, brands: set[str]) -> list[Problem]:
    """Brands the roster names that do not exist; a signature two people use in one brand."""
    problems: list[Problem] = []
    seen: list[tuple[str, set[str] | None, str]] = []  # (signature, its brands or None: all, where)
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        listed = entry.get("brands")
        named = {b for b in listed if isinstance(b, str)} if isinstance(listed, list) else set()
        for j, b in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(b, str) and brands and b not in brands:
                known = ", ".join(sorted(brands))
                problems.append(Problem(f"agents[{i}].brands[{j}]", f"no brand named {b!r} (known: {known})"))
        signatures = entry.get("signatures")
        for j, sig in enumerate(signatures if isinstance(signatures, list) else []):
            if not isinstance(sig, str):
                continue
            scope = named or None
            clash = next(
                (w for s, b, w in seen if s == sig.casefold() and (b is None or scope is None or b & scope)), None
            )
            if clash is not None and clash != f"agents[{i}]":
                problems.append(Problem(f"agents[{i}].signatures[{j}]", f"{sig!r} is already the signature of {clash}"))
            seen.append((sig.casefold(), scope, f"agents[{i}]"))
    return problems


def _app_problems(entries: object) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        app_id = entry.get("app_id") if isinstance(entry, dict) else None
        if isinstance(app_id, str):
            if app_id in seen:
                problems.append(Problem(f"apps[{i}].app_id", f"{app_id!r} is already {seen[app_id]}"))
            seen.setdefault(app_id, f"apps[{i}]")
    return problems


def _peer_problems(
    where: str, brand: Mapping[str, Any], policy_names: set[str], environ: Mapping[str, str]
) -> list[Problem]:
    """A brand's peers: each handle once, none of them the brand's own account, a policy and a
    bearer token to read them with (theirs, or the brand's first X account's)."""
    problems: list[Problem] = []
    peers = brand.get("peers")
    accounts = brand.get("accounts")
    own = [a for a in accounts if isinstance(a, dict)] if isinstance(accounts, list) else []
    x = next((a for a in own if a.get("channel") == "x"), None)
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for p, peer in enumerate(peers if isinstance(peers, list) else []):
        if not isinstance(peer, dict):
            continue
        at = f"{where}.peers[{p}]"
        handle = peer.get("handle")
        key = handle.removeprefix("@").lower() if isinstance(handle, str) else None
        twice = key in seen
        if key:
            if twice:
                problems.append(Problem(f"{at}.handle", f"@{key} is already a peer of this brand ({seen[key]})"))
            seen.setdefault(key, at)
            for i, a in enumerate(own):
                same_handle = isinstance(a.get("handle"), str) and a["handle"].removeprefix("@").lower() == key
                same_id = peer.get("user_id") is not None and a.get("user_id") == peer.get("user_id")
                if a.get("channel") == "x" and (same_handle or same_id):
                    problems.append(
                        Problem(f"{at}.handle", f"@{key} is the brand's own account ({where}.accounts[{i}])")
                    )
        label = peer.get("name") or key
        if isinstance(label, str) and label and not twice:  # the same handle twice: said above
            if label in names:
                problems.append(Problem(f"{at}.name", f"{label!r} is already the name of {names[label]}"))
            names.setdefault(label, at)
        policy = peer.get("policy")
        if isinstance(policy, str) and policy_names and policy not in policy_names:
            known = ", ".join(sorted(policy_names))
            problems.append(Problem(f"{at}.policy", f"no policy named {policy!r} (known: {known})"))
        env = peer.get("bearer_token_env")
        if env is None and x is None:
            problems.append(
                Problem(
                    f"{at}.bearer_token_env",
                    "field required: the brand has no X account whose bearer token the peer could use",
                )
            )
        elif isinstance(env, str) and not _secret_available(env, environ):
            problems.append(Problem(f"{at}.bearer_token_env", f"environment variable {env} (or {env}_FILE) is not set"))
    return problems


def _secret_available(name: str, environ: Mapping[str, str]) -> bool:
    """A secret is given as $NAME, or as a file named by $NAME_FILE (a mounted Kubernetes secret)."""
    return bool(environ.get(name) or environ.get(f"{name}_FILE"))


def _regex_problems(where: str, patterns: object) -> list[Problem]:
    problems = []
    for i, pattern in enumerate(patterns if isinstance(patterns, list) else []):
        try:
            re.compile(str(pattern))
        except re.error as exc:
            problems.append(Problem(f"{where}[{i}]", f"bad regular expression: {exc}"))
    return problems


def _webhook_id_problems(activity: Mapping[str, Any], where: str) -> list[Problem]:
    """A webhook-delivered account's subscriptions must name the webhook (else X delivers its
    events to a stream nobody opens); a streamed one's must not (X would deliver each twice)."""
    mode, webhook_id = activity.get("mode", "stream"), activity.get("webhook_id")
    if mode == "webhook" and webhook_id is None:
        return [
            Problem(
                f"{where}.webhook_id",
                'required with mode = "webhook": the id of the webhook registered for /webhooks/x '
                "(GET /2/webhooks lists it)",
            )
        ]
    if mode != "webhook" and webhook_id is not None:
        return [Problem(f"{where}.webhook_id", 'only with mode = "webhook"')]
    return []


def parse(data: Mapping[str, Any], source: str = "<config>", environ: Mapping[str, str] = os.environ) -> Config:
    """Validate a parsed TOML document; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(e["loc"])
            if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc += ("channel",)
            problems.append(Problem(format_location(loc), _message(e)))
    problems += _semantic_problems(data, environ)
    if config is not None:
        from monitor.reports.settings import secret_problems

        problems += [Problem(where, message) for where, message in secret_problems(config.reports, environ)]
    if problems or config is None:
        unique = list(dict.fromkeys(problems))
        raise ConfigError(source, unique)
    return config


class NoConfiguration(Exception):
    """Neither a file nor $INBOX_MONITOR_CONFIG names a configuration."""


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """Load the file given, else the one $INBOX_MONITOR_CONFIG names; `NoConfiguration` when there
    is neither (there is no built-in configuration: `inbox-monitor demo` makes its own)."""
    source = None
    if path is None:
        path = environ.get(ENV_CONFIG) or None
        source = f"{path} (named by ${ENV_CONFIG})"
    if path is None:
        raise NoConfiguration(f"no configuration file: give one with --config FILE or ${ENV_CONFIG}")
    p = Path(path)
    source = source or str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [Problem("", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [Problem("", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [Problem("", f"not valid TOML: {exc}")]) from None
    return parse(data, source, environ)
