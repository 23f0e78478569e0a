"""The X API v2 sources (mentions, the brand's replies, DMs) through tweepy's AsyncClient: how
they read X is told in docs/sources.md, "X".

`payloads` parses pages, `cursor` holds the cursor format, `budget` the rate windows, `client`
the requests and their errors, `streams` the streams themselves; `activity` the X Activity API's
persistent stream and `subscriptions` its subscriptions (docs/webhooks.md); what the rest of the
project uses is re-exported here."""

from monitor.sources.x.budget import RATE_WAIT_MAX, RATE_WAIT_MIN, RateBudgets, RateWindow, rate_reset, retry_after
from monitor.sources.x.client import MAX_RESPONSE_BYTES
from monitor.sources.x.cursor import MAX_ID, MAX_TOKEN_CHARS, Cursor, is_id, is_token, valid_ids
from monitor.sources.x.payloads import (
    DM_EVENT,
    ENDPOINT_DM_EVENTS,
    ENDPOINT_MENTIONS,
    ENDPOINT_TWEETS,
    TWEET,
    TWITTER_EPOCH_MS,
    Page,
    decode_json,
    parse_dm_events,
    parse_rejected,
    parse_tweets,
    snowflake_time,
)
from monitor.sources.x.streams import (
    MAX_BATCH_MESSAGES,
    MAX_PAGES,
    PAGE_SIZE,
    XDmSource,
    XSource,
    XTimelineSource,
    build_x_sources,
    x_sources,
)

__all__ = [
    "DM_EVENT",
    "ENDPOINT_DM_EVENTS",
    "ENDPOINT_MENTIONS",
    "ENDPOINT_TWEETS",
    "MAX_BATCH_MESSAGES",
    "MAX_ID",
    "MAX_PAGES",
    "MAX_RESPONSE_BYTES",
    "MAX_TOKEN_CHARS",
    "PAGE_SIZE",
    "RATE_WAIT_MAX",
    "RATE_WAIT_MIN",
    "TWEET",
    "TWITTER_EPOCH_MS",
    "Cursor",
    "Page",
    "RateBudgets",
    "RateWindow",
    "XDmSource",
    "XSource",
    "XTimelineSource",
    "build_x_sources",
    "decode_json",
    "is_id",
    "is_token",
    "parse_dm_events",
    "parse_rejected",
    "parse_tweets",
    "rate_reset",
    "retry_after",
    "snowflake_time",
    "valid_ids",
    "x_sources",
]
