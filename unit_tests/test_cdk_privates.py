"""Every private of the CDK (and of pyrate-limiter and requests) the connector relies on is still
there and still means what ``source_usage.core.cdk`` says: an upgrade that moves one fails here,
naming it, rather than somewhere in a sync."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from source_usage.core import cdk

PACKAGE = Path(cdk.__file__).resolve().parent.parent


def test_every_private_the_connector_reaches_still_holds() -> None:
    assert cdk.broken_assumptions() == [], "the installed CDK broke what source_usage/core/cdk.py relies on"


def test_the_privates_were_read_from_the_pinned_cdk() -> None:
    assert importlib.metadata.version("airbyte-cdk") == cdk.READ_FROM


def test_each_check_fails_when_its_private_is_gone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cdk, "backoff_cause", lambda error: None)
    assert cdk.broken_assumptions() == [
        "AirbyteTracedException(exception=...) no longer keeps it as _exception: backoff_cause finds no message"
    ]


def test_no_other_module_reaches_into_a_private_of_the_cdk_or_requests() -> None:
    reaching = re.compile(r"(?<!self)\._(?:http_client|session|exception|limiter|bucket|content)\b")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "cdk.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if reaching.search(line)
    ]
    assert offenders == []
