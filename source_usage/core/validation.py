"""Config validation with one sentence per bad field, naming the field and never its value.

The CDK's own check prints jsonschema's first message ("'abc' is not of type 'integer'"),
which neither names the field nor stops at one problem; users fix configs faster when told
``'<vendor>.requests_per_second' must be an integer.``
"""

from __future__ import annotations

import difflib
import ipaddress
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple
from urllib.parse import urlsplit

import pendulum
from airbyte_cdk.sources.utils.schema_helpers import InternalConfig
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from pendulum import DateTime

from source_usage.core.settings import config_error, oldest_day
from source_usage.core.vendor import Vendor

#: The clock a validation compares dates with (tests freeze it).
Clock = Callable[[], DateTime]

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}


def _field(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "config"


def _words(kind: Any) -> str:
    return _TYPE_WORDS.get(str(kind), str(kind))


#: What a field must be, by the JSON-schema rule it broke (``{0}``: the rule's value).
_RULE_SENTENCES = {
    "minimum": "must be at least {0}",
    "maximum": "must be at most {0}",
    "minLength": "must have at least {0} characters",
    "maxLength": "must have at most {0} characters",
    "minItems": "must have at least {0} items",
    "uniqueItems": "must not repeat an item",
}


def _sentence(error: ValidationError) -> str:
    field = _field(error.absolute_path)
    rule, expected = error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if rule == "required":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in expected if name not in instance]
        return f"'{_field([*error.absolute_path, missing[0] if missing else '?'])}' is required."
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"'{field}' must be {' or '.join(_words(kind) for kind in kinds)}."
    if rule == "enum":
        return f"'{field}' must be one of: {', '.join(str(value) for value in expected)}."
    if rule == "pattern":
        return f"'{field}' must look like {schema.get('pattern_descriptor', expected)}."
    if rule == "minLength" and expected == 1:
        return f"'{field}' must not be empty."
    if rule in _RULE_SENTENCES:
        return f"'{field}' {_RULE_SENTENCES[str(rule)].format(expected)}."
    return f"'{field}' is not valid ({rule})."


def _bad_field(error: ValidationError) -> str:
    """The field a schema error is about (for ``required``: the missing one)."""
    if error.validator == "required" and isinstance(error.instance, Mapping):
        missing = [name for name in error.validator_value if name not in error.instance]
        return _field([*error.absolute_path, missing[0] if missing else "?"])
    return _field(error.absolute_path)


def schema_errors(config: Mapping[str, Any], schema: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """``(field, sentence)`` for every field the JSON schema rejects, in field order."""
    errors = sorted(Draft7Validator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    found: List[Tuple[str, str]] = []
    for error in errors:
        entry = (_bad_field(error), _sentence(error))
        if entry not in found:
            found.append(entry)
    return found


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> List[str]:
    return [sentence for _, sentence in schema_errors(config, schema)]


def _is_internal(key: str) -> bool:
    """A key the CDK or a test harness adds to a config: ``_limit``, ``_page_size`` (which
    ``split_config`` removes) and the ``__injected_...`` keys of declarative sources."""
    return key in InternalConfig.KEYWORDS or key.startswith("__")


def unknown_key_problems(value: Any, schema: Mapping[str, Any], path: Tuple[str, ...] = ()) -> List[str]:
    """A sentence for every key of ``value`` (and of its sections) that its schema does not
    declare: a misspelt key would otherwise be ignored, and a misspelt filter read everything."""
    properties = schema.get("properties")
    if not isinstance(value, Mapping) or not isinstance(properties, Mapping):
        return []
    problems: List[str] = []
    for key, item in value.items():
        if not path and _is_internal(str(key)):
            continue
        if key in properties:
            problems.extend(unknown_key_problems(item, properties[key], (*path, str(key))))
            continue
        kind = "section" if not path and isinstance(item, Mapping) else "field"
        sentence = f"'{_field([*path, key])}' is not a known {kind}"
        matches = difflib.get_close_matches(str(key), [str(name) for name in properties], n=1)
        problems.append(f"{sentence}; did you mean '{matches[0]}'?" if matches else f"{sentence}.")
    return problems


def date_problem(field: str, value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    try:
        pendulum.parse(value, exact=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        return f"'{field}' is not a real calendar date (YYYY-MM-DD)."
    return None


def base_url_problem(field: str, value: Optional[str]) -> Optional[str]:
    """Only https, except plain http to a loopback host (tests, the emulator)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        return f"'{field}' must be a URL such as https://host."
    if not _port_is_valid(value):
        return f"'{field}' must have a port from 1 to 65535."
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return f"'{field}' must use https (plain http is allowed only for localhost)."
    if parts.query or parts.fragment:
        return f"'{field}' must not carry a query or fragment."
    return None


def credentials_problem(field: str, value: Any) -> Optional[str]:
    """A key that cannot be sent as a header once trimmed; the sentence never holds the value."""
    if not isinstance(value, str):
        return None
    key = value.strip()
    if not key:
        return f"'{field}' is empty."
    if any(ord(character) < 32 or ord(character) == 127 for character in key):
        return f"'{field}' holds a line break or another control character inside it; paste the key again."
    return None


def _port_is_valid(url: str) -> bool:
    try:
        port = urlsplit(url).port  # a ValueError when out of range or not a number
    except ValueError:
        return False
    return port is None or port >= 1


@lru_cache(maxsize=1)
def iana_zone_names() -> FrozenSet[str]:
    """The IANA time zone names, as the ``tzdata`` package (a dependency of pendulum) lists them.
    The system's zoneinfo folder also holds files that name no zone (``localtime``, the host's
    own zone), which pendulum would accept."""
    return frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())


def timezone_problem(field: str, value: Any) -> Optional[str]:
    if value is None or (isinstance(value, str) and value in iana_zone_names()):
        return None
    return f"'{field}' must be an IANA time zone name such as America/Los_Angeles."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_bad(field: str, bad: Set[str]) -> bool:
    """Whether ``field`` or a part of it (an item of a list) already has a problem."""
    return any(name == field or name.startswith(field + ".") for name in bad)


def shared_problems(config: Mapping[str, Any], bad: Set[str]) -> List[str]:
    """The dates: real calendar days, in order (fields the schema rejected are not checked again)."""
    problems: List[str] = []
    for field in ("start_date", "end_date"):
        problem = None if _is_bad(field, bad) else date_problem(field, config.get(field))
        if problem:
            problems.append(problem)
            bad.add(field)
    start, end = config.get("start_date"), config.get("end_date")
    if start and end and not _is_bad("start_date", bad) and not _is_bad("end_date", bad) and end < start:
        problems.append(f"'end_date' ({end}) is before 'start_date' ({start}).")
        bad.add("end_date")
    return problems


def history_problem(vendor: Vendor, end_date: Any, now: Clock) -> Optional[str]:
    """``end_date`` before the oldest day a vendor that keeps ``history_days`` still serves."""
    days = vendor.history_days
    if days is None or not isinstance(end_date, str) or not end_date:
        return None
    oldest = oldest_day(now(), vendor.history_timezone, days).to_date_string()
    if end_date >= oldest:
        return None
    title = vendor.identity.title
    return f"'end_date' ({end_date}) is older than the {days} days {title} keeps (its oldest day is {oldest})."


def vendor_problems(vendor: Vendor, section: Mapping[str, Any], bad: Set[str]) -> List[str]:
    """The shared checks of a section (host, credentials), then the vendor's own, each on the
    fields the schema accepted."""
    identity = vendor.identity
    accepted = {name: value for name, value in section.items() if not _is_bad(f"{identity.key}.{name}", bad)}
    shared = [
        base_url_problem(identity.base_url_field, accepted.get("base_url")),
        credentials_problem(identity.credentials_hint, accepted.get(identity.credentials_field)),
    ]
    return [problem for problem in shared if problem] + vendor.problems(accepted)


def config_problems(
    config: Mapping[str, Any], schema: Mapping[str, Any], vendors: Sequence[Vendor], now: Clock = pendulum.now
) -> List[str]:
    """Every problem of ``config``, one sentence each; empty when the config is usable."""
    errors = schema_errors(config, schema)
    bad = {field for field, _ in errors}
    problems = [sentence for _, sentence in errors]
    problems.extend(unknown_key_problems(config, schema))
    problems.extend(shared_problems(config, bad))
    present = [vendor for vendor in vendors if config.get(vendor.identity.key) is not None]
    if not present:
        names = ", ".join(f"'{vendor.identity.key}'" for vendor in vendors)
        problems.append(f"The config has no vendor section: add at least one of {names}.")
    for vendor in present:
        section = config[vendor.identity.key]
        if isinstance(section, Mapping):
            problems.extend(vendor_problems(vendor, section, bad))
    if not _is_bad("end_date", bad):
        histories = (history_problem(vendor, config.get("end_date"), now) for vendor in present)
        problems.extend(problem for problem in histories if problem)
    return problems


def ensure_valid(config: Mapping[str, Any], schema: Mapping[str, Any], vendors: Sequence[Vendor], now: Clock = pendulum.now) -> None:
    problems = config_problems(config, schema, vendors, now)
    if problems:
        raise config_error(" ".join(problems))
