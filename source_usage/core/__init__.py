"""The small shared core every vendor module builds on. It names no vendor.

What a vendor is and how it is configured:

- ``vendor``: what a vendor module exports (its identity, spec, streams and check stream) and the
  ``Connection`` its streams reach it through (its pool, clock and budget).
- ``settings``: the config fields every vendor shares (start, end, lookback) and config errors.
- ``validation``: config validation with one sentence per bad field.
- ``saved_state``: the ``--state`` file checked before a sync, a problem named per stream.

What a sync reads:

- ``periods``: statistics periods (hours, days, weeks, months) in a vendor's own time zone, and
  the plan of periods a sync may read.
- ``streams``: the base stream of an endpoint, and the incremental stream whose slices are periods
  and whose state is the last period read in full.
- ``paging``: one pager per paging scheme, holding its position and ending every loop.
- ``bodies``: a vendor's JSON read as sent (no number rounded, large pages item by item).
- ``keys``: no record without its primary key, none emitted twice.
- ``values``: value conversions (instants into UTC, epoch numbers, counts and text as typed columns).
- ``once``: what is fetched once per sync and shared by several streams (one failure policy), and
  what is said once a sync.
- ``schemas``: the stream JSON schemas shipped with the package.

How requests go out:

- ``pool``: one pool of worker threads per vendor serving every stream's request slices in
  planned order, and the adaptive number of requests in flight.
- ``limits``: each request's deadlines and in-flight slot (the transport adapter), and what a
  request that gave up tried.
- ``budget``: the client-side request budget, on the CDK's ``HttpAPIBudget``: every matching
  policy holds, each window widened by what the network teaches.
- ``errors``: how HTTP answers map to retry, rate-limit wait, config error or failure, and how
  long to wait before a retry.
- ``vendor_clock``: the vendor's own clock (its ``Date`` header), so no unfinished period is
  checkpointed when the machine's clock runs ahead.
- ``cdk``: every private of the CDK, pyrate-limiter and requests the connector relies on, in one
  place, each checked against the installed versions.

What a user sees:

- ``reading``: several streams read side by side into one ordered output.
- ``progress``: a sync's plan line and its progress lines.
- ``stats``: per-stream request counts for the sync summary.
- ``synclog``: the CDK's log lines made to name vendor and endpoint, and said once per sync.
"""
