"""The README's first command: a real sync of every stream into DuckDB, against the emulator.

``python3 tools/demo.py`` sets up ``.venv`` when needed (``tools/bootstrap.py``), then, inside it:
starts the built-in API emulator on loopback, syncs every stream of a demo config into
``demo-output/usage.duckdb`` through PyAirbyte (a full sync, then an incremental one from the
state PyAirbyte kept), prints per-stream record counts for both and the heaviest Jiandaoyun
members from DuckDB, stops the emulator and exits 0.
"""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, ensure_venv, in_venv, venv_bin  # noqa: E402

OUTPUT = ROOT / "demo-output"
DATABASE = OUTPUT / "usage.duckdb"
#: Both sides allow 10 requests/second per Jiandaoyun endpoint here (the real API: 1), so the
#: demo takes seconds, not minutes; the budget logic is the same.
DEMO_RPS = 10


def demo_config(url: str, emulator: Any) -> Dict[str, Any]:
    keys = {name: vendor.options for name, vendor in emulator.vendors.items()}
    yesterday = date.today() - timedelta(days=1)
    return {
        "start_date": (yesterday - timedelta(days=6)).isoformat(),
        "lookback_days": 1,
        "jiandaoyun": {"api_key": keys["jiandaoyun"].api_key, "base_url": url, "requests_per_second": DEMO_RPS},
        "workato": {"api_token": keys["workato"].api_token, "base_url": url, "timezone": keys["workato"].timezone},
        "tabnine": {"api_token": keys["tabnine"].api_token, "base_url": url, "granularity": "daily"},
    }


def print_counts(title: str, read_counts: Mapping[str, int], table_rows: Mapping[str, int]) -> None:
    print(f"\n{title}")
    print(f"  {'stream':32} {'records read':>12} {'rows in DuckDB':>15}")
    for stream in sorted(table_rows):
        print(f"  {stream:32} {read_counts.get(stream, 0):>12,} {table_rows[stream]:>15,}")


def run_demo() -> int:
    import airbyte as ab
    from airbyte.caches import DuckDBCache
    from sqlalchemy import text

    from integration_tests.emulator import Emulator

    OUTPUT.mkdir(exist_ok=True)
    for leftover in OUTPUT.glob("usage.duckdb*"):
        leftover.unlink()

    emulator = Emulator(seed=42, jiandaoyun={"members": 250, "apps": 40, "requests_per_second": DEMO_RPS})
    url = emulator.start()
    print(f"API emulator serving Jiandaoyun, Workato and Tabnine at {url}")
    try:
        source = ab.get_source(
            "source-usage",
            config=demo_config(url, emulator),
            local_executable=str(venv_bin("source-usage")),
            streams="*",
        )
        source.check()
        cache = DuckDBCache(db_path=DATABASE, schema_name="saas_usage")
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

        members = result.streams["jiandaoyun_member_usage"].to_sql_table().name
        heaviest = f"""
            SELECT member_id,
                   json_extract_string(member, '$.name') AS name,
                   SUM(COALESCE(app, 0) + COALESCE(form_coop, 0) + COALESCE(form_workflow, 0) + COALESCE(dash, 0)
                       + COALESCE(etl, 0) + COALESCE(aggregate, 0) + COALESCE(automation, 0)) AS objects,
                   MAX(COALESCE(data, 0)) AS data
            FROM "{cache.schema_name}"."{members}"
            GROUP BY member_id, name
            ORDER BY objects DESC, member_id
            LIMIT 5
        """
        with engine.connect() as connection:
            rows = connection.execute(text(heaviest)).all()
        print("\nHeaviest Jiandaoyun members (apps, forms, dashboards, ETL, aggregates, automations over the period):")
        print(f"  {'member_id':26} {'name':16} {'objects':>8} {'max data':>9}")
        for member_id, name, objects, data in rows:
            print(f"  {member_id:26} {str(name):16} {objects:>8} {data:>9}")
        print(f"\nDuckDB file: {DATABASE.relative_to(ROOT)} (schema '{cache.schema_name}')")
    finally:
        emulator.stop()
    return 0


def main() -> int:
    if not in_venv():
        python = ensure_venv()
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no registry access here
    os.environ.setdefault("DO_NOT_TRACK", "1")
    sys.path.insert(0, str(ROOT))
    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
