"""inbox-monitor: response times of a brand's social inbox, against SLA policies."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("inbox-monitor")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
