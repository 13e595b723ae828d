"""The README's first command: a real sync of every stream into DuckDB, against the emulator.

``python3 tools/demo.py`` sets up ``.venv`` when needed (``tools/bootstrap.py``), then, inside it:
starts the built-in API emulator on loopback, syncs every stream of every vendor it serves into
``demo-output/usage.duckdb`` through PyAirbyte (a full sync, then an incremental one from the
state PyAirbyte kept), prints per-stream record counts for both, builds the dbt project in
``models/`` on that file (``tools/models.py``: ``dbt build``, every model and its tests, into the
schema ``finops``), prints the FinOps answers from the models' tables (``tools/answers.py``:
seats bought, held, used and idle, idle holders, invitations pending, agent cost by team, user
and model, each Workato customer's tasks against its limit and the forecast, Jiandaoyun's
heaviest and inactive members and apps, daily and monthly trends), writes them with charts and
every column explained to one self-contained HTML file (``demo-output/report.html``,
``tools/report.py``), names it, stops the emulator and exits 0.

The connector runs on its defaults but for what a sync must be told: ``start_date`` (the last
``DAYS`` days up to yesterday) and each vendor's emulator URL and credentials. Tabnine's
per-user windows are the default, monthly, so "idle in the window" counts the months the window
touches, as it would for a user on the defaults. Sizes and limits of the emulated vendors are
each vendor's ``demo_options``. ``--output DIR`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, check_python, ensure_venv, in_venv, venv_bin  # noqa: E402

OUTPUT = ROOT / "demo-output"
DATABASE_NAME = "usage.duckdb"
REPORT_NAME = "report.html"
MODELS_SCHEMA = "finops"
#: Days synced, up to yesterday: enough for the reports' "last 30 days".
DAYS = 30


#: What the emulator's connector sections set beyond where and who (its tests pin them): left to
#: the connector's defaults here.
NOT_DEFAULTS = {"tabnine": ("granularity", "user_usage_granularity")}


def demo_config(emulator: Any) -> Dict[str, Any]:
    """The connector's defaults, but ``start_date`` and each vendor's URL and credentials."""
    yesterday = date.today() - timedelta(days=1)
    config = emulator.connector_config(start_date=(yesterday - timedelta(days=DAYS - 1)).isoformat())
    for vendor, keys in NOT_DEFAULTS.items():
        config[vendor] = {key: value for key, value in config[vendor].items() if key not in keys}
    return config


def print_counts(title: str, read_counts: Mapping[str, int], table_rows: Mapping[str, int]) -> None:
    print(f"\n{title}")
    print(f"  {'stream':32} {'records read':>12} {'rows in DuckDB':>15}")
    for stream in sorted(table_rows):
        print(f"  {stream:32} {read_counts.get(stream, 0):>12,} {table_rows[stream]:>15,}")


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_demo(output: Path = OUTPUT) -> int:
    import airbyte as ab
    from airbyte.caches import DuckDBCache
    from sqlalchemy import create_engine, text

    from emulator import Emulator, vendor_options
    from tools import models
    from tools.answers import REPORTS
    from tools.report import print_section, run_reports, write_html

    database, report = output / DATABASE_NAME, output / REPORT_NAME
    output.mkdir(parents=True, exist_ok=True)
    for leftover in [*output.glob(f"{DATABASE_NAME}*"), report]:
        leftover.unlink(missing_ok=True)

    emulator = Emulator(seed=42, **vendor_options(lambda vendor: vendor.demo_options))
    url = emulator.start()
    print(f"API emulator serving {', '.join(emulator.vendors)} at {url}")
    try:
        source = ab.get_source(
            "source-usage",
            config=demo_config(emulator),
            local_executable=str(venv_bin("source-usage")),
            streams="*",
        )
        source.check()
        cache = DuckDBCache(db_path=database, schema_name="saas_usage")
        engine = cache.get_sql_engine()

        def table_rows(result: Any) -> Dict[str, int]:
            with engine.connect() as connection:
                return {
                    stream: connection.execute(
                        text(f'SELECT COUNT(*) FROM "{cache.schema_name}"."{dataset.to_sql_table().name}"')
                    ).scalar_one()
                    for stream, dataset in result.streams.items()
                }

        for title in ("Sync 1 (full)", "Sync 2 (incremental: re-reads only the lookback)"):
            result = source.read(cache=cache)
            # Records read per stream in this sync, as PyAirbyte's progress tracker counted them.
            read_counts = dict(result._progress_tracker.stream_read_counts)
            print_counts(title, read_counts, table_rows(result))

        engine.dispose()
    finally:
        emulator.stop()

    # The answers: the models built on the synced file, then read from their tables only.
    print(f"\nBuilding the models (dbt build, {shown(models.PROJECT)}) on {shown(database)} ...", flush=True)
    target = output / "dbt"
    built = models.run_dbt(models.Warehouse(duckdb=database), ["build"], "saas_usage", MODELS_SCHEMA, target_path=target, capture=True)
    if built.returncode != 0:
        print(built.stdout[-6000:], built.stderr[-2000:], sep="\n", file=sys.stderr)
        print(f"dbt build failed (its log: {shown(target / 'dbt.log')})", file=sys.stderr)
        return 1
    results = json.loads((target / "run_results.json").read_text())["results"]
    kinds = Counter(result["unique_id"].split(".")[0] for result in results)
    print(f"dbt build: {kinds['model']} models and {kinds['test']} tests passed (schema {MODELS_SCHEMA})")
    engine = create_engine(f"duckdb:///{database}")
    try:
        with engine.connect() as connection:
            sections = run_reports(connection, MODELS_SCHEMA, REPORTS, target / "manifest.json")
    finally:
        engine.dispose()
    for section in sections:
        print_section(section)
    print(f"\nDuckDB file: {shown(database)} (streams in schema 'saas_usage', models in '{MODELS_SCHEMA}')")
    write_html(report, sections, source=f"{shown(database)}, schema {MODELS_SCHEMA}, {DAYS} days synced")
    print(f"HTML report: {shown(report)}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    check_python()  # before anything else, so that an old Python gets one sentence
    parser = argparse.ArgumentParser(description="Sync every stream from the API emulator into DuckDB and report on it.")
    parser.add_argument(
        "--output", type=Path, default=OUTPUT, help=f"where the DuckDB file and the HTML report go (default {shown(OUTPUT)})"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not in_venv():
        python = ensure_venv()
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no registry access here
    os.environ.setdefault("DO_NOT_TRACK", "1")
    sys.path.insert(0, str(ROOT))
    return run_demo(args.output.resolve())


if __name__ == "__main__":
    sys.exit(main())
