"""End to end: a vendor served over HTTPS by a private certificate authority (``trustme``).

A certificate the connector cannot verify is a config error at once, naming the problem and
``REQUESTS_CA_BUNDLE``: a retry would meet the same certificate. The authorities to trust come
from ``REQUESTS_CA_BUNDLE`` (as ``requests`` reads it) or from OpenSSL's standard
``SSL_CERT_FILE``, which ``requests`` alone ignores.
"""

from __future__ import annotations

import re
import ssl
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
import trustme

from emulator import Emulator, discover_vendors, vendor_options
from integration_tests.assertions import assert_matches, assert_succeeded
from integration_tests.conftest import CheckedConnector, EmulatorFactory
from integration_tests.runner import configured_catalog

VENDORS = sorted(discover_vendors())
TITLES = {"Jiandaoyun", "Workato", "Tabnine"}


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https(emulator_factory: EmulatorFactory, authority: trustme.CA) -> Emulator:
    """Every vendor on loopback over HTTPS, its certificate (for 127.0.0.1) issued by ``authority``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return emulator_factory(seed=7, rate_limits=False, tls=context, **vendor_options(lambda vendor: vendor.e2e_options))


@pytest.fixture
def authority_file(authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "private-ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


def days() -> Tuple[date, date]:
    end = datetime.now(timezone.utc).date() - timedelta(days=3)
    return end - timedelta(days=1), end


def one_vendor(emulator: Emulator, vendor: str) -> Dict[str, Any]:
    start, end = days()
    section = emulator.vendor(vendor).connector_section(emulator.url)
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "lookback_days": 0, vendor: section}


@pytest.fixture(autouse=True)
def no_authorities_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.process
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_certificate_of_an_unknown_authority_fails_the_read_at_once_naming_the_problem_and_requests_ca_bundle(
    connector: CheckedConnector, https: Emulator, vendor: str
) -> None:
    stream = https.vendor(vendor).usage_stream

    run = connector.read(one_vendor(https, vendor), configured_catalog([stream]))

    errors = run.errors()
    assert run.returncode == 1
    # The stream's error, then the CDK's for the sync (which names the streams that failed).
    assert [e["failure_type"] for e in errors] == ["config_error", "config_error"]
    assert errors[0]["message"].split(" (")[0] in TITLES
    assert (
        "): the server's TLS certificate could not be verified: unable to get local issuer certificate. "
        f"If {vendor}.base_url is right and its server uses a private certificate authority, set REQUESTS_CA_BUNDLE "
        "(or SSL_CERT_FILE) to a PEM file holding that authority's certificate."
    ) in errors[0]["message"]
    assert re.search(f"Sync summary: {stream}: [01] requests, 0 retries, 0 rate-limit waits", run.stdout), run.describe()
    assert "Retrying in" not in run.stdout
    assert https.log.entries() == []  # no request got through the handshake


@pytest.mark.process
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_the_private_authority_named_by_requests_ca_bundle_or_ssl_cert_file_is_trusted_and_the_sync_equals_the_ground_truth(
    connector: CheckedConnector, https: Emulator, authority_file: str, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, authority_file)
    stream = https.vendor("workato").usage_stream
    start, end = days()

    run = connector.read(one_vendor(https, "workato"), configured_catalog([stream]))

    assert_succeeded(run)
    assert_matches(stream, run.records(stream), https.ground_truth(stream, start_date=start, end_date=end))


@pytest.mark.process
def test_a_certificate_authorities_file_that_does_not_exist_fails_the_check_naming_the_file_and_the_variables(
    connector: CheckedConnector, https: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(missing))

    run = connector.check(one_vendor(https, "workato"))

    status = run.connection_status()
    assert status["status"] == "FAILED"
    assert (
        f"the server's TLS certificate could not be verified: the certificate authorities file {missing} "
        "(REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE or SSL_CERT_FILE or SSL_CERT_DIR) does not exist. "
    ) in status["message"]
