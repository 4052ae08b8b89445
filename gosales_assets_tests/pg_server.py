"""PostgreSQL for the tests marked ``postgres``: the ``pg_server`` and ``pg_database``
fixtures (registered in conftest.py).

- ``GOSALES_TEST_PG_URL`` (``postgresql://user:password@host:port/db``, a role allowed
  to ``CREATE DATABASE``) points at a running server; otherwise
- a throwaway server is started from ``/usr/lib/postgresql/*/bin`` (or ``pg_ctl`` on
  ``PATH``) on 127.0.0.1 and a free port, with a random password, fsync off. ``initdb``
  refuses to run as root, so as root the server runs as the ``postgres`` system user in
  a temporary folder it owns (outside pytest's root-only tmp folder), removed at the
  end of the session.

Without either the tests skip with the reason, or fail when ``GOSALES_REQUIRE_PG=1``
(``make test-postgres``, CI).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

REQUIRE_ENV = "GOSALES_REQUIRE_PG"
URL_ENV = "GOSALES_TEST_PG_URL"
SERVER_USER = "gosales"


def unavailable(reason: str) -> None:
    """Skip, or fail under ``GOSALES_REQUIRE_PG=1``, naming what is missing."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL required ({REQUIRE_ENV}=1): {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    admin_db: str = "postgres"

    def url(self, db: str) -> str:
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{db}"

    def dsn(self, db: str) -> str:
        """A libpq key=value connection string."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={db}"
        )

    def connect(self, db: str | None = None) -> Any:
        import psycopg2

        con = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=db or self.admin_db,
        )
        con.autocommit = True
        return con

    def query(self, db: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        con = self.connect(db)
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            con.close()

    def create_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return name

    def drop_database(self, name: str) -> None:
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            con.close()


def _server_from_url(url: str) -> PgServer:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ValueError(f"{URL_ENV} must be postgresql://user:password@host:port/db")
    return PgServer(
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        admin_db=parts.path.lstrip("/") or "postgres",
    )


def find_pg_bin() -> Path | None:
    """The newest PostgreSQL server bin folder with ``initdb`` and ``pg_ctl``."""

    def version(path: Path) -> int:
        name = path.parent.name
        return int(name) if name.isdigit() else -1

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.insert(0, Path(on_path).resolve().parent)
    for folder in reversed(candidates):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _LocalServer:
    """A PostgreSQL cluster in a temporary folder, run as a non-root user."""

    def __init__(self, bin_dir: Path, base: Path | None) -> None:
        self.bin_dir = bin_dir
        self.as_user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.as_user = pwd.getpwnam("postgres")
            except KeyError:
                unavailable(
                    "running as root and there is no 'postgres' system user to run "
                    "initdb as (install the postgresql package, or set "
                    f"{URL_ENV})"
                )
        if self.as_user is not None or base is None:
            self.root = Path(tempfile.mkdtemp(prefix="gosales-pg-"))
            self.owned_tmp = True
        else:
            self.root = base
            self.owned_tmp = False
        if self.as_user is not None:
            os.chown(self.root, self.as_user.pw_uid, self.as_user.pw_gid)
        self.data = self.root / "data"
        self.password = secrets.token_hex(16)
        self.port = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.as_user is not None:
            kwargs = {
                "user": self.as_user.pw_uid,
                "group": self.as_user.pw_gid,
                "extra_groups": [],
            }
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            check=False,
            **kwargs,
        )

    def start(self) -> PgServer:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self.as_user is not None:
            os.chown(pwfile, self.as_user.pw_uid, self.as_user.pw_gid)
        init = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SERVER_USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        pwfile.unlink()
        if init.returncode != 0:
            unavailable(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        last = ""
        for _ in range(3):  # a port taken between the probe and the bind: try another
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            started = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
            if started.returncode == 0:
                return PgServer("127.0.0.1", self.port, SERVER_USER, self.password)
            log = self.root / "server.log"
            last = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            last = last or started.stderr
        unavailable(f"pg_ctl start failed: {last.strip()}")
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if self.owned_tmp:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A PostgreSQL server for this test session (see the module docstring)."""
    url = os.environ.get(URL_ENV)
    if url:
        yield _server_from_url(url)
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        unavailable(
            "no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH "
            f"(apt-get install postgresql) and {URL_ENV} is not set"
        )
        return
    server = _LocalServer(bin_dir, tmp_path_factory.mktemp("pg"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database on ``pg_server``, dropped after the test."""
    name = pg_server.create_database("gosales_test")
    try:
        yield name
    finally:
        pg_server.drop_database(name)
