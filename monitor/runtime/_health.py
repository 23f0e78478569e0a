"""Failure as state: how a supervised step (or a stream's polls) is going, logged on change only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from monitor.logs import excerpt

ERROR_TEXT_MAX = 500
"""Characters of an error kept (logged, stored): enough to say what and where; an API's error
body is an outside party's text, so it is bounded."""

NEW = "new"
OK = "ok"
FAILING = "failing"
CRASHED = "crashed"
"""Statuses: not run yet, the last run succeeded, it failed as foreseen (the database away, an
API error), it failed on an error nobody foresaw (a bug: logged with its traceback)."""

_log = logging.getLogger("monitor.runtime")


@dataclass(eq=False)
class Health:
    """The last success, the last error and the failures in a row. `failed` logs once when the
    failures start (and again when their status changes), `succeeded` once when they end: never a
    line per retry (Home Assistant's update coordinator)."""

    name: str = "step"
    """What is run, as the log lines say it: "<name> failing", "<name> recovered"."""
    logger: logging.Logger = field(default=_log, repr=False)
    context: Mapping[str, object] = field(default_factory=dict)
    """Fields added to both log lines (which account, which stream)."""
    level: int = logging.ERROR
    """Of the "failing" line; the recovery is info: nothing is left to do, and a warning would
    sound at every recovery (a token rotated, a network blip) in logs that alert on warnings."""
    failing_message: str | None = None
    recovered_message: str | None = None
    status: str = NEW
    failures: int = 0
    """In a row, since the last success."""
    last_success: datetime | None = None
    last_exception: BaseException | None = field(default=None, repr=False)
    """Kept without its traceback: the frames would keep alive all that the failed run had read."""
    last_error: str | None = None
    """The last error as logged: its type and text, bounded, secrets redacted."""

    @property
    def failing(self) -> bool:
        return self.status not in (NEW, OK)

    def succeeded(self, at: datetime) -> None:
        """A run went well: log the recovery if it was failing."""
        if self.failing:
            self.logger.info(
                self.recovered_message or f"{self.name} recovered",
                extra={**self.context, "after_failures": self.failures},
            )
        self.status, self.failures, self.last_exception, self.last_error = OK, 0, None, None
        self.last_success = at

    def failed(self, exc: BaseException, *, status: str = FAILING, traceback: bool = False) -> None:
        """A run failed with `exc`: log it if it was not already failing with this status."""
        error = excerpt(f"{type(exc).__name__}: {exc}", ERROR_TEXT_MAX)
        if self.status != status:
            self.logger.log(
                self.level,
                self.failing_message or f"{self.name} failing",
                extra={**self.context, "status": status, "error": error},
                exc_info=exc if traceback else None,
            )
        self.status, self.last_exception, self.last_error = status, _untraced(exc), error
        self.failures += 1


def _untraced(exc: BaseException) -> BaseException:
    """`exc` and the exceptions it was raised from, their tracebacks dropped (logged already)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc
