"""The README's first command: a real sync of every stream into DuckDB, against the emulator.

``python3 tools/demo.py`` sets up ``.venv`` when needed (``tools/bootstrap.py``), then, inside it:
starts the built-in API emulator on loopback, syncs every stream of every vendor it serves into
``demo-output/usage.duckdb`` through PyAirbyte (a full sync, then an incremental one from the
state PyAirbyte kept), prints per-stream record counts for both and each vendor's own reports
from DuckDB (its emulator's ``demo_reports``, e.g. the heaviest members), stops the emulator and
exits 0. Sizes and limits are each vendor's ``demo_options``.
"""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Mapping, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, ensure_venv, in_venv, venv_bin  # noqa: E402

OUTPUT = ROOT / "demo-output"
DATABASE = OUTPUT / "usage.duckdb"


def demo_config(emulator: Any) -> Dict[str, Any]:
    yesterday = date.today() - timedelta(days=1)
    return emulator.connector_config(start_date=(yesterday - timedelta(days=6)).isoformat(), lookback_days=1)


def print_report(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A query's rows as a table: numbers right-aligned, everything else left-aligned."""
    print(f"\n{title}:")
    cells = [[f"{value:,}" if isinstance(value, int) else str(value) for value in row] for row in rows]
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(columns))]
    align = [">" if number else "<" for number in numeric]
    print("  " + " ".join(f"{column:{side}{width}}" for column, side, width in zip(columns, align, widths, strict=True)))
    for row in cells:
        print("  " + " ".join(f"{cell:{side}{width}}" for cell, side, width in zip(row, align, widths, strict=True)))


def print_counts(title: str, read_counts: Mapping[str, int], table_rows: Mapping[str, int]) -> None:
    print(f"\n{title}")
    print(f"  {'stream':32} {'records read':>12} {'rows in DuckDB':>15}")
    for stream in sorted(table_rows):
        print(f"  {stream:32} {read_counts.get(stream, 0):>12,} {table_rows[stream]:>15,}")


def run_demo() -> int:
    import airbyte as ab
    from airbyte.caches import DuckDBCache
    from sqlalchemy import text

    from integration_tests.emulator import Emulator, vendor_options

    OUTPUT.mkdir(exist_ok=True)
    for leftover in OUTPUT.glob("usage.duckdb*"):
        leftover.unlink()

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

        for vendor in emulator.vendors.values():
            for report in vendor.demo_reports:
                table = f'"{cache.schema_name}"."{result.streams[report.stream].to_sql_table().name}"'
                with engine.connect() as connection:
                    rows = connection.execute(text(report.sql.format(table=table)))
                    print_report(report.title, list(rows.keys()), rows.all())
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
