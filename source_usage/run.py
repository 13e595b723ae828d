"""The ``source-usage`` command: the Airbyte protocol (spec, check, discover, read)."""

from __future__ import annotations

import sys
from typing import Any, List, Mapping, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_usage.source import SourceUsage


class UsageEntrypoint(AirbyteEntrypoint):
    """The CDK entrypoint, with ``check``'s config validation replaced by ours.

    ``check`` validates the config before the source sees it; the CDK's validator answers with
    jsonschema's first message, which does not name the field. Ours answers one sentence per
    bad field (``source_usage.core.validation``), still as a FAILED connection status.
    """

    def __init__(self, source: SourceUsage) -> None:
        super().__init__(source)
        self.usage_source = source

    def validate_connection(self, source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:  # type: ignore[override]  # the CDK's is a staticmethod; ours needs the source's vendors
        connector_config, _ = split_config(config)
        self.usage_source.validate(connector_config)


def launch(args: List[str], source: Optional[SourceUsage] = None) -> None:
    """As ``airbyte_cdk.entrypoint.launch``, with :class:`UsageEntrypoint`."""
    entrypoint = UsageEntrypoint(source or SourceUsage())
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            # One write per message: two writes could interleave with another thread's output.
            print(f"{message}\n", end="")


def run(args: Optional[List[str]] = None) -> None:
    launch(sys.argv[1:] if args is None else args)


if __name__ == "__main__":
    run()
