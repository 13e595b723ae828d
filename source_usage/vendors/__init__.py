"""One module per vendor; each defines ``VENDOR`` (see :mod:`source_usage.core.vendor`)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Tuple

from source_usage.core.vendor import Vendor


@lru_cache(maxsize=1)
def all_vendors() -> Tuple[Vendor, ...]:
    """Every vendor module in this package, in spec order."""
    found = []
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        vendor = getattr(module, "VENDOR", None)
        if isinstance(vendor, Vendor):
            found.append(vendor)
    return tuple(sorted(found, key=lambda vendor: vendor.order))
