"""Benchmark of the account pages: throughput, latency and memory.

Starts the portal with gunicorn (2 sync workers, SQLite WAL, demo data) on a
free loopback port, loads it with wrk for a few seconds per route, and prints
requests per second, latency percentiles and the workers' resident memory.
Also times one argon2 hash, which bounds the sign-in rate.

    .venv/bin/python bench/accounts.py [--seconds 5] [--connections 32]

Traffic goes only to 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the portal did not answer at {url}")


def sign_in(base: str, email: str, password: str) -> str:
    """Sign in like a browser; return the session cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/connexion").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"csrf_token": token, "email": email, "password": password}
    ).encode()
    opener.open(base + "/connexion", data=data).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def run_wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": lat.get("50"),
        "p99": lat.get("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    sys.path.insert(0, ROOT)
    from citoyen import config
    from citoyen import passwords

    passwords.configure(
        config.ARGON2_TIME_COST, config.ARGON2_MEMORY_COST, config.ARGON2_PARALLELISM
    )
    start = time.perf_counter()
    for _ in range(5):
        passwords.hash_password("Motdepasse1")
    argon_ms = (time.perf_counter() - start) / 5 * 1000

    instance = tempfile.mkdtemp(prefix="citoyen-bench-")
    env = {
        **os.environ,
        "CITOYEN_INSTANCE_PATH": instance,
        "CITOYEN_DEMO": "1",
        "CITOYEN_SECRET_KEY": "bench-secret",
        "CITOYEN_RATELIMIT_ENABLED": "false",
    }
    flask = [os.path.join(BIN, "flask"), "--app", "wsgi"]
    subprocess.run(flask + ["migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(flask + ["demo", "load"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            os.path.join(BIN, "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(base + "/sante")
        workers = children(server.pid)
        cookie = sign_in(base, "camille.martin@example.org", "Citoyen2026")
        rss_idle = rss_kib([server.pid] + workers)
        print(
            f"argon2id hash ({config.ARGON2_TIME_COST} passes, {config.ARGON2_MEMORY_COST // 1024} MiB): "
            f"{argon_ms:.0f} ms "
            f"-> at most ~{2000 / argon_ms:.0f} sign-ins/s on 2 cores"
        )
        print(f"memory, master + 2 workers, idle after start: {rss_idle / 1024:.1f} MiB")
        print(f"{'route':<34} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
        routes = [
            ("GET /connexion (anonymous)", "/connexion", {}),
            ("GET / Accueil (signed in)", "/", {"Cookie": cookie}),
            ("GET /messages/ (signed in)", "/messages/", {"Cookie": cookie}),
            ("GET /connexion gzip", "/connexion", {"Accept-Encoding": "gzip"}),
        ]
        for label, path, headers in routes:
            run_wrk(base + path, 1, options.connections, headers)  # warm-up, not reported
            result = run_wrk(base + path, options.seconds, options.connections, headers)
            print(
                f"{label:<34} {result['rps']:>8.0f} {result['p50']:>9} {result['p99']:>9} "
                f"{result['non2xx']:>8}"
            )
        rss_loaded = rss_kib([server.pid] + children(server.pid))
        print(f"memory, master + 2 workers, after load: {rss_loaded / 1024:.1f} MiB")
        page = urllib.request.urlopen(
            urllib.request.Request(base + "/connexion", headers={"Accept-Encoding": "gzip"})
        ).read()
        raw = urllib.request.urlopen(base + "/connexion").read()
        print(f"sign-in page: {len(raw)} bytes, {len(page)} bytes gzipped")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
