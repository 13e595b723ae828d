"""metadata.yaml and the Dockerfile, against Airbyte's metadata v0 rules and image contract."""

from __future__ import annotations

import json
import re
import shlex
import uuid
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import urlsplit

import jsonschema
import tomllib
import yaml

import source_usage.core
from source_usage.spec import DOCUMENTATION_URL

ROOT = Path(__file__).resolve().parents[1]


def metadata() -> Dict[str, Any]:
    loaded: Dict[str, Any] = yaml.safe_load((ROOT / "metadata.yaml").read_text())
    return loaded


def metadata_schema() -> Dict[str, Any]:
    """Airbyte's published metadata v0 schema (package airbyte-connector-models).

    Its sub-schemas carry their own ``$id``s while their ``$ref``s point into the root document,
    so the nested ``$id``s are dropped to let references resolve against the root.
    """
    text = resources.files("airbyte_connector_models").joinpath("metadata/v0/ConnectorMetadataDefinitionV0.json").read_text()
    schema: Dict[str, Any] = json.loads(text)

    def drop_nested_ids(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("$id", None)
            for value in node.values():
                drop_nested_ids(value)
        elif isinstance(node, list):
            for value in node:
                drop_nested_ids(value)

    for value in schema.values():
        drop_nested_ids(value)
    return schema


def dockerfile_instructions() -> List[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_metadata_is_valid_against_airbyte_metadata_v0_schema() -> None:
    errors = list(jsonschema.Draft7Validator(metadata_schema(), format_checker=jsonschema.FormatChecker()).iter_errors(metadata()))
    assert not errors, [f"{list(error.absolute_path)}: {error.message}" for error in errors]


def test_the_schema_check_rejects_a_field_v0_does_not_know() -> None:
    document = metadata()
    document["data"]["registries"] = {"oss": {"enabled": True}}  # pre-v0 key, rejected today
    assert list(jsonschema.Draft7Validator(metadata_schema()).iter_errors(document))


def test_definition_id_is_a_uuid_and_the_image_tag_is_the_package_version() -> None:
    data = metadata()["data"]
    uuid.UUID(data["definitionId"])
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert data["dockerImageTag"] == version


def test_repository_label_and_tags_are_consistent() -> None:
    data = metadata()["data"]
    assert data["dockerRepository"] == "source-usage"  # not airbyte/, Airbyte's own namespace
    assert data["githubIssueLabel"] == data["dockerRepository"].split("/")[-1]
    assert data["connectorType"] == "source" and "language:python" in data["tags"] and "cdk:python" in data["tags"]
    assert (ROOT / data["icon"]).is_file()
    assert data["documentationUrl"] == DOCUMENTATION_URL


def connection_specification() -> Dict[str, Any]:
    import logging

    from source_usage import SourceUsage

    spec: Dict[str, Any] = SourceUsage().spec(logging.getLogger("test")).connectionSpecification
    return spec


def base_url_sections() -> List[str]:
    """The config sections that have a ``base_url`` field, in the spec's order."""
    return [key for key, section in connection_specification()["properties"].items() if "base_url" in section.get("properties", {})]


def allowed_hosts() -> List[str]:
    hosts: List[str] = metadata()["data"]["allowedHosts"]["hosts"]
    return hosts


def platform_allowed_hosts(hosts: List[str], config: Dict[str, Any]) -> List[str]:
    """What Airbyte's platform makes of ``hosts`` for a connection's ``config``, as its
    ConfigReplacer.getAllowedHosts does (airbyte-platform, airbyte-commons-converters): each
    ``${a.b}`` is the config's value at that dotted path reduced to its host (scheme, port, path
    and user info dropped), and an entry with a ``${...}`` the config cannot fill is left out."""
    values: Dict[str, str] = {}

    def flatten(node: Any, prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                flatten(value, f"{prefix}{key}.")
            elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                text = str(value)
                values[f"{prefix}{key}"] = urlsplit(text if "://" in text else f"x://{text}").hostname or text

    flatten(config, "")
    resolved = [re.sub(r"\$\{([^}]+)\}", lambda match: values.get(match.group(1), match.group(0)), host) for host in hosts]
    return [host for host in resolved if "${" not in host]


def test_allowed_hosts_list_the_host_of_every_base_url_the_spec_offers() -> None:
    offered = set()
    for key in base_url_sections():
        base_url = connection_specification()["properties"][key]["properties"]["base_url"]
        urls = [base_url["default"], *base_url.get("examples", [])]
        # example.com (RFC 2606) stands for a user's own host, which the interpolation below covers.
        offered |= {host for host in (urlsplit(url).hostname for url in urls) if host and not host.endswith("example.com")}
    fixed = [host for host in allowed_hosts() if "${" not in host]
    assert offered and sorted(fixed) == sorted(offered)


def test_allowed_hosts_interpolate_every_vendors_configured_base_url() -> None:
    interpolated = [host for host in allowed_hosts() if "${" in host]
    assert interpolated == [f"${{{key}.base_url}}" for key in base_url_sections()]


def test_airbyte_allows_a_configured_private_host_and_only_the_default_hosts_without_one() -> None:
    fixed = [host for host in allowed_hosts() if "${" not in host]
    private = {key: {"api_token": "x", "base_url": f"https://{key}.acme-private.net:8443/api"} for key in base_url_sections()}
    defaults = {key: {"api_token": "x"} for key in base_url_sections()}

    assert platform_allowed_hosts(allowed_hosts(), private) == [*fixed, *(f"{key}.acme-private.net" for key in base_url_sections())]
    assert platform_allowed_hosts(allowed_hosts(), defaults) == fixed


def test_the_dockerfile_base_image_is_the_metadata_base_image_pinned_by_digest() -> None:
    base = metadata()["data"]["connectorBuildOptions"]["baseImage"]
    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:[0-9.]+@sha256:[0-9a-f]{64}", base)
    args = [line for line in dockerfile_instructions() if line.startswith("ARG BASE_IMAGE=")]
    assert args == [f"ARG BASE_IMAGE={base}"]
    stages = [line for line in dockerfile_instructions() if line.startswith("FROM")]
    assert stages == ["FROM ${BASE_IMAGE} AS builder", "FROM ${BASE_IMAGE}"]


def test_the_image_runs_as_airbyte_with_airbyte_entrypoint_equal_to_the_absolute_entrypoint() -> None:
    lines = dockerfile_instructions()
    entrypoint = json.loads(next(line for line in lines if line.startswith("ENTRYPOINT")).removeprefix("ENTRYPOINT"))
    env = next(line for line in lines if line.startswith("ENV AIRBYTE_ENTRYPOINT="))
    assert shlex.split(env.removeprefix("ENV AIRBYTE_ENTRYPOINT=")) == [" ".join(entrypoint)]
    assert entrypoint[0].startswith("/")
    assert lines[-1] == "USER airbyte"


def test_the_core_package_describes_every_module_it_holds() -> None:
    core = Path(source_usage.core.__file__).parent
    described = set(re.findall(r"^- ``(\w+)``:", source_usage.core.__doc__ or "", flags=re.MULTILINE))
    modules = {path.stem for path in core.glob("*.py") if path.stem != "__init__"}
    assert sorted(modules - described) == [], "core/__init__.py says what each module is for"
