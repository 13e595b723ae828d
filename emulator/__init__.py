"""A loopback stand-in for the vendors' usage APIs: what the demo, the bench and the end-to-end tests run the connector against.

    from emulator import Emulator
    with Emulator(seed=7, VENDOR={...its Options fields...}) as emulator:
        emulator.url                                # http://127.0.0.1:PORT, every vendor's base URL
        emulator.faults.add("http_500", every=5, times=1, path="usage")  # on paths holding "usage"
        emulator.log.entries(path="usage")          # what the connector sent, and what it got
        emulator.ground_truth(STREAM, start_date="2026-06-01", end_date="2026-06-03")

Or from a shell: ``python -m emulator --rate-limit off`` (``--help`` lists every
vendor's options).
Each vendor is a module of this package exporting ``VENDOR`` (see ``core.VendorEmulator``), which
also tells shared tests its config section and the sizes they run it at:

    Emulator(rate_limits=False, **vendor_options(lambda vendor: vendor.e2e_options))
    emulator.connector_config(start_date="2026-06-01")  # a section for every vendor served
"""

from emulator.core import (
    FAULT_KINDS,
    Emulator,
    Fault,
    LoggedRequest,
    Reply,
    VendorEmulator,
    discover_vendors,
    vendor_options,
)

__all__ = [
    "FAULT_KINDS",
    "Emulator",
    "Fault",
    "LoggedRequest",
    "Reply",
    "VendorEmulator",
    "discover_vendors",
    "vendor_options",
]
