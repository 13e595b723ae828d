"""The small shared core every vendor module builds on.

- ``periods``: statistics periods (days, weeks, months, hours) in a vendor's own time zone.
- ``settings``: the config fields every vendor shares (start, end, lookback) and config errors.
- ``budget``: the client-side request budget, on the CDK's ``HttpAPIBudget``.
- ``errors``: how HTTP answers map to retry, rate-limit wait, config error or failure.
- ``streams``: the incremental base stream whose slices are periods and whose state is the
  last period read in full.
- ``vendor``: what a vendor module exports, so that the source can find it without a list.
"""
