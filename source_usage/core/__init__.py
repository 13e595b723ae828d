"""The small shared core every vendor module builds on. It names no vendor.

- ``vendor``: what a vendor module exports (its identity, spec, streams and check stream) and the
  ``Connection`` its streams reach it through.
- ``settings``: the config fields every vendor shares (start, end, lookback) and config errors.
- ``validation``: config validation with one sentence per bad field.
- ``periods``: statistics periods (hours, days, weeks, months) in a vendor's own time zone, and
  the plan of periods a sync may read.
- ``budget``: the client-side request budget, on the CDK's ``HttpAPIBudget``.
- ``errors``: how HTTP answers map to retry, rate-limit wait, config error or failure, and how
  long to wait before a retry.
- ``paging``: one pager per paging scheme, holding its position and ending every loop.
- ``streams``: the base stream of an endpoint, and the incremental stream whose slices are periods
  and whose state is the last period read in full.
- ``reading``: several streams read side by side into one ordered output.
- ``stats``: per-stream request counts for the sync summary.
- ``values``: value conversions (instants into UTC, epoch numbers, counts and text as typed columns).
- ``once``: what is fetched once per sync and shared by several streams (one failure policy), and
  what is said once a sync.
- ``schemas``: the stream JSON schemas shipped with the package.
"""
