"""``python -m emulator``: serve every vendor on loopback until killed.

Prints one line, the base URL (``http://127.0.0.1:PORT``). Every field of a vendor's
``Options`` is a flag, ``--VENDOR-FIELD VALUE``, and also plain
``--FIELD`` when no other vendor has that field. A limit of 0 is no limit.
``--latency-ms``/``--jitter-ms`` set every answer's round trip (latency plus or minus up to the
jitter, repeatable per seed); ``--VENDOR-latency-ms``/``--VENDOR-jitter-ms`` one vendor's.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional

from emulator.core import FAULT_KINDS, Emulator, discover_vendors


def _converter(hint: Any) -> Callable[[str], Any]:
    kinds = set(typing.get_args(hint)) or {hint}
    if bool in kinds:
        return lambda text: text.lower() in ("1", "true", "yes", "on")
    if int in kinds:
        return lambda text: None if text.lower() in ("0", "off", "none") and type(None) in kinds else int(text)
    return str


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--seed", type=int, default=1, help="the seed every generated value derives from")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port")
    parser.add_argument("--rate-limit", choices=("on", "off"), default="on", help="enforce the vendors' rate limits")
    parser.add_argument("--now", help="pin the clock, ISO-8601 with offset (e.g. 2026-06-15T12:00:00+08:00)")
    parser.add_argument(
        "--clock-offset-seconds",
        type=float,
        default=0.0,
        help="run the vendors' clock (their data's today, every answer's Date) this far from the machine's (negative: behind)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND:EVERY[:PATH]",
        help=f"inject a fault on every EVERY-th request (path substring optional); KIND: {', '.join(FAULT_KINDS)}",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="every answer's round trip in ms (default: 0)")
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="each round trip off by up to this many ms either way, <= --latency-ms (default: 0)"
    )
    vendors = discover_vendors()
    counts: Dict[str, int] = {}
    for cls in vendors.values():
        for option in fields(cls.Options):
            counts[option.name] = counts.get(option.name, 0) + 1
    for name, cls in vendors.items():
        group = parser.add_argument_group(name)
        hints = typing.get_type_hints(cls.Options)
        for option in fields(cls.Options):
            flags = [f"--{name}-{option.name}".replace("_", "-")]
            if counts[option.name] == 1:
                flags.append(f"--{option.name}".replace("_", "-"))
            default = option.default if option.default is not MISSING else None
            group.add_argument(
                *flags,
                dest=f"{name}.{option.name}",
                type=_converter(hints[option.name]),
                default=argparse.SUPPRESS,
                help=f"default: {default}",
            )
        for network in ("latency_ms", "jitter_ms"):  # every vendor's, beside its Options
            group.add_argument(
                f"--{name}-{network}".replace("_", "-"),
                dest=f"{name}.{network}",
                type=float,
                default=argparse.SUPPRESS,
                help=f"this vendor's {network.split('_')[0]} in ms (default: --{network})".replace("_", "-"),
            )
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    parser = _parser()
    args = vars(parser.parse_args(argv))
    options: Dict[str, Any] = {}  # vendor name -> its options, as Emulator keyword arguments
    for key, value in args.items():
        if "." in key:
            vendor, field = key.split(".", 1)
            options.setdefault(vendor, {})[field] = value
    try:
        emulator = Emulator(
            seed=args["seed"],
            now=datetime.fromisoformat(args["now"]) if args["now"] else None,
            rate_limits=args["rate_limit"] == "on",
            host=args["host"],
            port=args["port"],
            latency_ms=args["latency_ms"],
            jitter_ms=args["jitter_ms"],
            clock_offset_seconds=args["clock_offset_seconds"],
            **options,
        )
    except ValueError as error:
        parser.error(str(error))
    for spec in args["fault"]:
        kind, every, *path = spec.split(":", 2)
        emulator.faults.add(kind, every=int(every), path=path[0] if path else "")
    emulator.start()
    print(emulator.url, flush=True)
    emulator.wait()


if __name__ == "__main__":
    main()
