"""One module per vendor; each defines ``VENDOR`` (see :mod:`source_usage.core.vendor`)."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Tuple

from source_usage.core.vendor import Vendor


@lru_cache(maxsize=1)
def all_vendors() -> Tuple[Vendor, ...]:
    """Every vendor module in this package, in module-name order (which is also their order in
    the spec form)."""
    modules = (importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__))
    return tuple(vendor for module in modules if isinstance(vendor := getattr(module, "VENDOR", None), Vendor))
