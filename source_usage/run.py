"""The ``source-usage`` command: the Airbyte protocol (spec, check, discover, read)."""

from __future__ import annotations

import sys
from typing import Any, List, Mapping, Optional

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_usage.core.validation import ensure_valid
from source_usage.source import SourceUsage
from source_usage.vendors import all_vendors


class UsageEntrypoint(AirbyteEntrypoint):
    """The CDK entrypoint, with ``check``'s config validation replaced by ours.

    ``check`` validates the config before the source sees it; the CDK's validator answers with
    jsonschema's first message, which does not name the field. Ours answers one sentence per
    bad field (``source_usage.core.validation``), still as a FAILED connection status.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        connector_config, _ = split_config(config)
        ensure_valid(connector_config, source_spec.connectionSpecification, all_vendors())


def launch(args: List[str]) -> None:
    """As ``airbyte_cdk.entrypoint.launch``, with :class:`UsageEntrypoint`."""
    entrypoint = UsageEntrypoint(SourceUsage())
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            # One write per message: two writes could interleave with another thread's output.
            print(f"{message}\n", end="")


def run(args: Optional[List[str]] = None) -> None:
    launch(sys.argv[1:] if args is None else args)


if __name__ == "__main__":
    run()
