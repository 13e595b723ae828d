"""What a vendor module exports, so that the source finds it without a hand-kept list.

A module in :mod:`source_usage.vendors` that defines ``VENDOR = SomeVendor()`` is a vendor: its
config section appears in the spec, its streams in ``discover`` when the section is present,
and ``check`` calls its :meth:`Vendor.check`. Adding a vendor is adding a module.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar, List, Mapping

from airbyte_cdk.sources.streams import Stream

from source_usage.core.settings import SharedSettings


class Vendor(ABC):
    #: The config section, e.g. ``jiandaoyun``; stream names start with it.
    key: ClassVar[str]
    #: The vendor's name as users know it, used in every message about it.
    title: ClassVar[str]
    #: Where the section sits in the spec form (after the shared fields).
    order: ClassVar[int]

    @abstractmethod
    def spec(self) -> Mapping[str, Any]:
        """The JSON schema of the vendor's config section (with titles, order and secrets)."""

    def problems(self, section: Mapping[str, Any]) -> List[str]:
        """Checks the JSON schema cannot express; one sentence per bad field."""
        return []

    @abstractmethod
    def streams(self, section: Mapping[str, Any], settings: SharedSettings) -> List[Stream]:
        """The vendor's streams for a valid section."""

    @abstractmethod
    def check(self, section: Mapping[str, Any], settings: SharedSettings, logger: logging.Logger) -> None:
        """One cheap request that proves the host and the credentials; raises on failure."""
