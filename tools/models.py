"""Build the dbt project in ``models/`` (the FinOps answers) on the tables a sync landed.

    python3 tools/models.py --duckdb demo-output/usage.duckdb                  # DuckDB file, schema saas_usage
    python3 tools/models.py --postgres postgresql://user:pw@host:5432/db --source-schema airbyte
    python3 tools/models.py --duckdb FILE -- test --select seats               # any dbt command and options

Sets up ``.venv`` first when needed (``tools/bootstrap.py``; dbt comes with it), then runs
``dbt build`` (or the dbt command after ``--``) with ``models/profiles.yml``, whose every value
this sets from the options: the warehouse, the schema the connector's streams landed in
(``--source-schema``, default ``saas_usage``: the demo's) and the schema the models go to
(``--schema``, default ``finops``). The PostgreSQL password reaches dbt in its environment only;
nothing here prints it. dbt's artifacts (``manifest.json``, ``run_results.json``) and its log go
to ``--target-path`` (default ``.cache/dbt/``). Standard library only: the demo and the tests
import :func:`run_dbt`.

For a warehouse and a profile of your own, run dbt itself: ``docs/models.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bootstrap import ROOT, check_python, ensure_venv, venv_bin  # noqa: E402

PROJECT = ROOT / "models"
TARGET_PATH = ROOT / ".cache" / "dbt"
SOURCE_SCHEMA = "saas_usage"
MODELS_SCHEMA = "finops"


@dataclass(frozen=True)
class Warehouse:
    """Where the synced tables are and the models go: a DuckDB file or a PostgreSQL database."""

    duckdb: Optional[Path] = None
    postgres: Optional[str] = None  # postgresql://user:password@host:port/database

    @property
    def target(self) -> str:
        return "duckdb" if self.duckdb is not None else "postgres"

    def environment(self) -> Dict[str, str]:
        """The variables ``models/profiles.yml`` reads for this warehouse."""
        if self.duckdb is not None:
            return {"SOURCE_USAGE_DUCKDB_PATH": str(Path(self.duckdb).resolve())}
        if self.postgres is None:
            raise ValueError("a warehouse is a DuckDB file or a PostgreSQL URL")
        parts = urlsplit(self.postgres)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
            raise ValueError("--postgres must look like postgresql://user:password@host:port/database")
        return {
            "SOURCE_USAGE_PG_HOST": parts.hostname,
            "SOURCE_USAGE_PG_PORT": str(parts.port or 5432),
            "SOURCE_USAGE_PG_USER": unquote(parts.username or ""),
            "SOURCE_USAGE_PG_PASSWORD": unquote(parts.password or ""),
            "SOURCE_USAGE_PG_DATABASE": parts.path.strip("/"),
        }


def dbt_invocation(
    warehouse: Warehouse,
    arguments: Sequence[str] = ("build",),
    source_schema: str = SOURCE_SCHEMA,
    schema: str = MODELS_SCHEMA,
    variables: Optional[Mapping[str, Any]] = None,
    target_path: Path = TARGET_PATH,
    dbt: Optional[Path] = None,
) -> tuple[List[str], Dict[str, str]]:
    """The dbt command line and its environment (this process's, plus the profile's variables)."""
    command = [str(dbt or venv_bin("dbt")), *arguments, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    command += ["--target", warehouse.target, "--target-path", str(target_path), "--log-path", str(target_path)]
    command += ["--vars", json.dumps({"source_usage_schema": source_schema, **(variables or {})})]
    environment = {
        **os.environ,
        **warehouse.environment(),
        "SOURCE_USAGE_MODELS_SCHEMA": schema,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return command, environment


def run_dbt(
    warehouse: Warehouse,
    arguments: Sequence[str] = ("build",),
    source_schema: str = SOURCE_SCHEMA,
    schema: str = MODELS_SCHEMA,
    variables: Optional[Mapping[str, Any]] = None,
    target_path: Path = TARGET_PATH,
    capture: bool = False,
    dbt: Optional[Path] = None,
) -> subprocess.CompletedProcess[str]:
    """Runs dbt on ``warehouse``; ``capture``: its output is returned instead of shown."""
    command, environment = dbt_invocation(warehouse, arguments, source_schema, schema, variables, target_path, dbt)
    Path(target_path).mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, env=environment, cwd=PROJECT, text=True, capture_output=capture, check=False)


def main(argv: Optional[List[str]] = None) -> int:
    check_python()
    parser = argparse.ArgumentParser(prog="tools/models.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--duckdb", type=Path, help="a DuckDB file the connector's streams were synced into")
    where.add_argument("--postgres", help="postgresql://user:password@host:port/database")
    parser.add_argument("--source-schema", default=SOURCE_SCHEMA, help=f"the schema the streams landed in (default {SOURCE_SCHEMA})")
    parser.add_argument("--schema", default=MODELS_SCHEMA, help=f"the schema the models are built in (default {MODELS_SCHEMA})")
    parser.add_argument("--target-path", type=Path, default=TARGET_PATH, help="where dbt writes its artifacts and log")
    parser.add_argument("dbt", nargs="*", help="the dbt command and its options, after -- (default: build)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    ensure_venv()
    warehouse = Warehouse(duckdb=args.duckdb, postgres=args.postgres)
    try:
        warehouse.environment()
    except ValueError as error:
        parser.error(str(error))
    done = run_dbt(warehouse, args.dbt or ["build"], args.source_schema, args.schema, target_path=args.target_path.resolve())
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
