"""Config validation with one sentence per bad field, naming the field and never its value.

The CDK's own check prints jsonschema's first message ("'abc' is not of type 'integer'"),
which neither names the field nor stops at one problem; users fix configs faster when told
``'jiandaoyun.requests_per_second' must be an integer.``
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import urlsplit

import pendulum
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from source_usage.core.settings import config_error
from source_usage.core.vendor import Vendor

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
    if rule in _RULE_SENTENCES:
        return f"'{field}' {_RULE_SENTENCES[str(rule)].format(expected)}."
    return f"'{field}' is not valid ({rule})."


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> List[str]:
    errors = sorted(Draft7Validator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    sentences: List[str] = []
    for error in errors:
        sentence = _sentence(error)
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_problems(
    config: Mapping[str, Any], schema: Mapping[str, Any], vendors: Sequence[Vendor]
) -> List[str]:
    """Every problem of ``config``, one sentence each; empty when the config is usable."""
    problems = schema_problems(config, schema)
    if problems:
        return problems
    for field in ("start_date", "end_date"):
        problem = date_problem(field, config.get(field))
        if problem:
            problems.append(problem)
    if not problems and config.get("start_date") and config.get("end_date"):
        if config["end_date"] < config["start_date"]:
            problems.append(f"'end_date' ({config['end_date']}) is before 'start_date' ({config['start_date']}).")
    present = [vendor for vendor in vendors if config.get(vendor.identity.key) is not None]
    if not present:
        names = ", ".join(f"'{vendor.identity.key}'" for vendor in vendors)
        problems.append(f"The config has no vendor section: add at least one of {names}.")
    for vendor in present:
        section = config[vendor.identity.key]
        identity = vendor.identity
        shared = [
            base_url_problem(identity.base_url_field, section.get("base_url")),
            credentials_problem(identity.credentials_hint, section.get(identity.credentials_field)),
        ]
        problems.extend(problem for problem in shared if problem)
        problems.extend(vendor.problems(section))
    return problems


def ensure_valid(config: Mapping[str, Any], schema: Mapping[str, Any], vendors: Sequence[Vendor]) -> None:
    problems = config_problems(config, schema, vendors)
    if problems:
        raise config_error(" ".join(problems))
