"""source-usage: an Airbyte source for SaaS usage statistics (Jiandaoyun/Jodoo, Workato, Tabnine)."""

from source_usage.source import SourceUsage

__all__ = ["SourceUsage"]
