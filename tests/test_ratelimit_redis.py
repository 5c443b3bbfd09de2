"""Rate limits kept in a real Redis server, shared by several app servers.

A Redis server (Debian's redis-server) is started for these tests on a free
port of 127.0.0.1, with nothing written to disk. Without redis-server they
are skipped, except under CITOYEN_STRICT_TESTS=1 (CI), where they fail."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time

import pytest

from citoyen import create_app
from citoyen import ratelimit
from tests.conftest import BASE_CONFIG
from tests.conftest import STRICT
from tests.factories import PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _command(port: int, *args: str) -> str:
    """One command of Redis's own protocol (inline form), its raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((" ".join(args) + "\r\n").encode())
        answer = b""
        while not answer.endswith(b"\r\n") or answer.startswith(b"*") and answer.count(b"\r\n") < 2:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
            if not answer.startswith(b"*"):
                break
            time.sleep(0.01)
        return answer.decode(errors="replace")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        message = "redis-server is missing (apt-get install redis-server)"
        if STRICT:
            pytest.fail(f"CITOYEN_STRICT_TESTS=1 and {message}", pytrace=False)
        pytest.skip(message)
    pytest.importorskip("redis", reason="the redis extra is missing (pip install -e '.[redis]')")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            if _command(port, "PING").startswith("+PONG"):
                break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("redis-server did not start", pytrace=False)
        time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_uri(redis_port):
    _command(redis_port, "FLUSHALL")
    return f"redis://127.0.0.1:{redis_port}/0"


def _server(database_url, tmp_path, name: str, storage: str, **config):
    """One app server of the town: its own process state, the shared database
    and the shared rate-limit storage."""
    instance = tmp_path / name
    instance.mkdir(exist_ok=True)
    return create_app({**BASE_CONFIG, "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
                       "RATELIMIT_STORAGE_URI": storage, **config})


def _sign_in(client, email: str, password: str = "Mauvais1"):
    return client.post("/connexion", data={"email": email, "password": password})


def test_two_servers_share_one_count(app, database_url, tmp_path, redis_uri):
    limit = {"RATELIMIT_SIGN_IN_PER_EMAIL": "4/minute"}
    first = _server(database_url, tmp_path, "a", redis_uri, **limit).test_client()
    second = _server(database_url, tmp_path, "b", redis_uri, **limit).test_client()
    # Two attempts on each server: the limit of 4 is reached between them.
    for client in (first, second, first, second):
        assert _sign_in(client, "nobody@example.org").status_code == 422
    for client in (first, second):
        refused = _sign_in(client, "NOBODY@example.org")
        assert refused.status_code == 429
        assert "Trop de tentatives" in refused.get_data(as_text=True)
    # Another address is not affected, on either server.
    assert _sign_in(second, "other@example.org").status_code == 422


def test_each_server_counts_alone_in_memory(app, database_url, tmp_path):
    """What the shared storage is for: with memory://, each server (each
    worker process) has its own count, and the same attempts all go through."""
    limit = {"RATELIMIT_SIGN_IN_PER_EMAIL": "4/minute"}
    first = _server(database_url, tmp_path, "a", "memory://", **limit).test_client()
    second = _server(database_url, tmp_path, "b", "memory://", **limit).test_client()
    for client in (first, second) * 3:
        assert _sign_in(client, "nobody@example.org").status_code == 422


def test_the_count_outlives_a_restart(app, database_url, tmp_path, redis_uri):
    limit = {"RATELIMIT_SIGN_IN_PER_EMAIL": "3/minute"}
    before = _server(database_url, tmp_path, "a", redis_uri, **limit).test_client()
    for _ in range(3):
        _sign_in(before, "nobody@example.org")
    restarted = _server(database_url, tmp_path, "a", redis_uri, **limit).test_client()
    assert _sign_in(restarted, "nobody@example.org").status_code == 429


def test_redis_keeps_no_address_in_clear(app, database_url, tmp_path, redis_uri, redis_port):
    client = _server(database_url, tmp_path, "a", redis_uri).test_client()
    _sign_in(client, "camille.martin@example.org")
    keys = _command(redis_port, "KEYS", "*")
    assert "sign_in" in keys  # the attempt was counted in Redis
    assert "camille" not in keys.lower()
    assert "example.org" not in keys
    assert "127.0.0.1" not in keys


def test_a_redis_out_of_reach_never_stops_a_sign_in(app, database_url, tmp_path, make_account, caplog):
    """Redis stopped or unreachable: the forms still answer (the attempt is
    not counted, and this is logged); the lockout after wrong passwords, kept
    in the database, still holds."""
    parent = make_account(email="parent@example.org")
    client = _server(database_url, tmp_path, "a", f"redis://127.0.0.1:{_free_port()}/0").test_client()
    with caplog.at_level(logging.WARNING, logger="citoyen.ratelimit"):
        signed_in = _sign_in(client, parent.email, PASSWORD)
    assert signed_in.status_code == 303
    assert "rate-limit storage out of reach, sign_in attempt not counted" in caplog.text
    client.post("/deconnexion")
    for _ in range(5):
        assert _sign_in(client, parent.email).status_code == 422
    locked = _sign_in(client, parent.email, PASSWORD)
    assert locked.status_code == 422
    assert "bloqué" in locked.get_data(as_text=True)


def test_a_redis_that_never_answers_holds_a_form_only_a_moment(app, database_url, tmp_path, monkeypatch, caplog):
    """An address that takes the connection and never answers: the attempt
    gives up after ``REDIS_TIMEOUT`` instead of waiting for ever."""
    monkeypatch.setattr(ratelimit, "REDIS_TIMEOUT", 0.2)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are queued by the kernel, never read
    try:
        client = _server(database_url, tmp_path, "a",
                         f"redis://127.0.0.1:{silent.getsockname()[1]}/0").test_client()
        answers = []
        with caplog.at_level(logging.WARNING, logger="citoyen.ratelimit"):
            attempt = threading.Thread(target=lambda: answers.append(_sign_in(client, "nobody@example.org")))
            attempt.start()
            attempt.join(60)  # without a socket timeout, it would never end
        assert not attempt.is_alive()
        assert answers[0].status_code == 422
        assert "not counted" in caplog.text
    finally:
        silent.close()
