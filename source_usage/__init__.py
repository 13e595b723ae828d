"""source-usage: an Airbyte source for SaaS usage statistics, one module per vendor in ``source_usage.vendors``."""

from source_usage.source import SourceUsage

__all__ = ["SourceUsage"]
