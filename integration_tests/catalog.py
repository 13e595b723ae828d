"""What shared tests know of the connector's streams: what its own ``discover`` says (schemas,
primary keys, cursors), never a list kept here.

``default_catalog()`` is the shipped connector's catalog with a section for every vendor the
emulator serves (discovered once per process, in-process: discover sends no request). A test
of a source built otherwise (a vendor of its own) gets its catalog with :func:`discover` and
passes it where a default would be used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Type

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer
from airbyte_cdk.models import Type as MessageType
from airbyte_cdk.sources import AbstractSource

from emulator.core import VendorEmulator, World, discover_vendors

#: Discover sends no request, so the sections may name any URL the connector accepts.
UNUSED_URL = "http://127.0.0.1:9"


def discover_config(vendors: Iterable[Type[VendorEmulator]], url: str = UNUSED_URL) -> Dict[str, Any]:
    """A connector config with every emulated vendor's section (default options), so that
    discover lists every stream: it lists only the streams of the sections present."""
    world = World()
    return {cls.name: cls(world).connector_section(url) for cls in vendors}


@dataclass(frozen=True)
class Catalog:
    """A discovered catalog: each stream as discover declares it (protocol JSON), by name."""

    streams: Mapping[str, Mapping[str, Any]]

    def stream(self, name: str) -> Mapping[str, Any]:
        try:
            return self.streams[name]
        except KeyError:
            raise KeyError(f"discover lists no stream {name!r}; it lists {sorted(self.streams)}") from None

    def primary_key(self, name: str) -> Tuple[str, ...]:
        """The fields of the stream's primary key, in order."""
        paths = self.stream(name).get("source_defined_primary_key") or []
        # A nested key would need a path lookup in every assertion; no stream declares one.
        assert all(len(path) == 1 for path in paths), f"{name}: a nested primary key {paths}"
        return tuple(path[0] for path in paths)

    def cursor(self, name: str) -> List[str]:
        """The stream's cursor field path; empty for a full-refresh-only stream."""
        return list(self.stream(name).get("default_cursor_field") or [])

    def incremental(self) -> List[str]:
        """The streams that support incremental syncs, sorted."""
        return sorted(name for name, stream in self.streams.items() if "incremental" in stream["supported_sync_modes"])

    def configured(self, names: Sequence[str], sync_mode: str = "incremental") -> Dict[str, Any]:
        """A configured catalog of ``names``, each stream as discover declared it.

        A stream without a cursor is configured full refresh whatever ``sync_mode`` says, as a
        platform configures a stream that supports nothing else.
        """
        entries = []
        for name in names:
            stream, cursor = self.stream(name), self.cursor(name)
            mode = sync_mode if cursor and sync_mode in stream["supported_sync_modes"] else "full_refresh"
            entries.append(
                {
                    "stream": dict(stream),
                    "sync_mode": mode,
                    "destination_sync_mode": "append" if mode == "incremental" else "overwrite",
                    "cursor_field": cursor if mode == "incremental" else [],
                }
            )
        return {"streams": entries}


def discover(source: AbstractSource, vendors: Iterable[Type[VendorEmulator]]) -> Catalog:
    """What ``source`` discovers with a section for each of the emulated ``vendors``."""
    found = source.discover(logging.getLogger("airbyte"), discover_config(vendors))
    # The protocol's JSON, as the installed command prints it and a platform reads it.
    message = AirbyteMessageSerializer.dump(AirbyteMessage(type=MessageType.CATALOG, catalog=found))
    return Catalog({stream["name"]: stream for stream in message["catalog"]["streams"]})


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped connector's catalog, with every vendor this package's emulator serves."""
    from source_usage import SourceUsage  # the connector's import (the CDK's) only when a test needs it

    return discover(SourceUsage(), discover_vendors().values())
