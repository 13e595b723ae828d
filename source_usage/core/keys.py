"""Primary keys: no record without its key reaches a destination, and none is emitted twice.

A destination deduplicates by primary key; a record whose key field is null would collapse with
every other such record (300 items, 2 keys), and one emitted twice in a period (a page the vendor
repeats, an id named twice) would count twice in an append-only table. So each period (or each
full read) is read through one :class:`KeyGuard`.
"""

from __future__ import annotations

import logging
from typing import Any, List, Mapping, Set, Tuple

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

logger = logging.getLogger("airbyte")


class MissingKey(AirbyteTracedException):
    """A vendor item without a field of the stream's primary key."""


class KeyGuard:
    """The keys emitted in one period of one stream."""

    def __init__(self, where: str, key_fields: List[str], period: str = "") -> None:
        self.where = where
        self.key_fields = key_fields
        self.period = period
        self._seen: Set[Tuple[Any, ...]] = set()
        self.repeated = 0

    def admit(self, record: Mapping[str, Any]) -> bool:
        """Whether to emit ``record``: ``False`` for a key already emitted; raises on a missing key."""
        key = tuple(record.get(field) for field in self.key_fields)
        if None in key:
            raise self.missing(record, self.key_fields[key.index(None)])
        if key in self._seen:
            self.repeated += 1
            return False
        self._seen.add(key)
        return True

    def missing(self, record: Mapping[str, Any], field: str) -> MissingKey:
        present = ", ".join(sorted(name if value is not None else f"{name}: null" for name, value in record.items())) or "none"
        message = (
            f"{self.where} answered an item without '{field}', a field of the stream's primary key "
            f"(the item has: {present}). No record is emitted without its key; the vendor's answer may have changed shape."
        )
        return MissingKey(message=message, internal_message=message, failure_type=FailureType.system_error)

    def report(self) -> None:
        if self.repeated:
            within = f" in {self.period}" if self.period else ""
            items = "1 item" if self.repeated == 1 else f"{self.repeated} items"
            logger.warning(f"{self.where}: left out {items} whose key was already read{within}; each key is emitted once.")
