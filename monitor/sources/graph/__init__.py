"""The Meta Graph API, whatever the account (a Facebook Page today): the client, its usage and
blocks, errors, paging, bounds and the base of its streams (docs/sources.md, "The Graph API client")."""
