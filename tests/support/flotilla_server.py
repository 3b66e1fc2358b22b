"""Starting flotilla, or a peer server, as a real process for the Python suites and bench scripts.

The one way every suite (tests/compat, tests/serving, tests/ui) and bench script
(scripts/bench_*.py) starts a server; the Rust tests and bench do the same through the
`flotilla-testkit` crate:

- flotilla binds port 0 and the bound port is read from its start-up line
  (`flotilla is listening address=127.0.0.1:PORT`), so no other process can take the port
  between its choice and the bind; a peer that cannot report its port (MLflow, MLServer) gets
  one from `free_port()`;
- stdout and stderr go to one log file; flotilla stays in the caller's process group (whatever
  ends the caller's group ends it too), a peer that forks workers gets a session of its own;
- `wait_ready(path)` polls until `path` answers 200 and returns the seconds since spawn;
- `stop()` sends SIGTERM (to the session's group, if it has one), then SIGKILL after a grace; a
  `Server` is also a context manager that stops on exit.

As a library (standard library only, any Python 3.9+)::

    sys.path.insert(0, str(ROOT / "tests" / "support"))
    import flotilla_server
    with flotilla_server.start_flotilla(bin_path, data_dir, "--model-memory", "256MiB") as server:
        ...server.url...

As a command, which starts flotilla, runs a command with the server's URL in its environment,
stops the server and exits with the command's status::

    python3 tests/support/flotilla_server.py --bin target/debug/flotilla --log out/server.log \\
        --url-env MLFLOW_TRACKING_URI -- pytest tests/compat
"""

import argparse
import http.client
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Text (`address=127.0.0.1:PORT`) or JSON (`"address":"127.0.0.1:PORT"`, FLOTILLA_LOG_FORMAT=json).
LISTENING = re.compile(r'flotilla is listening.*?address(?:=|":")([^\s"]+):(\d+)')
POLL = 0.01


def free_port():
    """A free loopback port (bound then released: another process could take it in between)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_bin():
    """$FLOTILLA_BIN, else target/debug/flotilla under $CARGO_TARGET_DIR or the repo root."""
    if os.environ.get("FLOTILLA_BIN"):
        return os.environ["FLOTILLA_BIN"]
    return str(Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug" / "flotilla")


def get_status(port, path, timeout=2):
    """The status of `GET path` on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


class Server:
    """A server process; its output goes to `log_path`.

    `port=None` is flotilla on port 0, its port read from the log; otherwise the server was told
    to listen on `port`. `own_group` starts it in a session of its own, stopped as a whole.
    """

    def __init__(self, name, args, log_path, port=None, cwd=None, env=None, stop_grace=15, own_group=True):
        self.name = name
        self.log_path = Path(log_path)
        self.stop_grace = stop_grace
        self.own_group = own_group
        self._port = port
        self._log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(a) for a in args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=own_group,
        )

    @property
    def pid(self):
        return self.proc.pid

    @property
    def port(self):
        if self._port is None:
            raise RuntimeError(f"{self.name}: port not known before wait_ready()")
        return self._port

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path="/health", timeout=30):
        """Seconds from spawn until `GET path` answers 200 (polled every 10 ms)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); log:\n{self.log_tail()}")
            if self._port is None:
                found = LISTENING.search(self.log_path.read_text(errors="replace"))
                if found:
                    self._port = int(found.group(2))
            if self._port is not None:
                try:
                    if get_status(self._port, path) == 200:
                        return time.monotonic() - self.started
                except (OSError, http.client.HTTPException):
                    pass
            time.sleep(POLL)
        raise RuntimeError(f"{self.name}: {path} not 200 after {timeout} s; log:\n{self.log_tail()}")

    def log_tail(self, n=3000):
        """The last `n` bytes of the log."""
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def _signal(self, sig):
        try:
            if self.own_group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def stop(self):
        """SIGTERM, SIGKILL after the grace; safe to call twice."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def spawn_flotilla(bin_path, data_dir, *extra_args, mode="server", log_path=None, cwd=None, env=None):
    """Spawns `flotilla <mode>` on `data_dir` at 127.0.0.1, port 0; call `wait_ready()` next.

    The log defaults to a new `flotilla-*.log` beside the data directory. A FLOTILLA_LOG in the
    environment keeps the start-up line at info level, since the port is read from it.
    """
    data_dir = Path(data_dir)
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix=f"flotilla-{mode}-", suffix=".log", dir=data_dir.parent)
        os.close(fd)
    env = dict(os.environ if env is None else env)
    if env.get("FLOTILLA_LOG"):
        env["FLOTILLA_LOG"] += ",flotilla::server=info"
    args = [bin_path, mode, "--data-dir", data_dir, "--host", "127.0.0.1", "--port", "0", *extra_args]
    return Server("flotilla", args, log_path, cwd=cwd, env=env, own_group=False)


def start_flotilla(bin_path, data_dir, *extra_args, timeout=30, **kwargs):
    """`spawn_flotilla`, then waits until `/health` answers 200 (stopping the server if not)."""
    server = spawn_flotilla(bin_path, data_dir, *extra_args, **kwargs)
    try:
        server.wait_ready("/health", timeout)
    except BaseException:
        server.stop()
        raise
    return server


def main():
    ap = argparse.ArgumentParser(
        description="Start flotilla, run a command with its URL in the environment, stop flotilla.")
    ap.add_argument("--bin", default=default_bin(), help="the flotilla binary (default: %(default)s)")
    ap.add_argument("--data-dir", help="the data directory (default: a fresh temporary one, removed after)")
    ap.add_argument("--log", required=True, help="the server's log file")
    ap.add_argument("--server-args", default="", help="extra `flotilla server` flags, one shell-quoted string")
    ap.add_argument("--url-env", action="append", help="environment variable(s) to hold the URL "
                    "(default: FLOTILLA_URL)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to become healthy")
    ap.add_argument("--name", default="flotilla", help="names the server in messages")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command given (after --)")
    if not os.access(args.bin, os.X_OK):
        print(f"{args.name}: no flotilla binary at {args.bin} (set FLOTILLA_BIN)", file=sys.stderr)
        return 1
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{args.name}-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        try:
            server = start_flotilla(args.bin, data_dir, *shlex.split(args.server_args), timeout=args.timeout,
                                    log_path=args.log)
        except RuntimeError as e:
            print(f"{args.name}: flotilla exited or was not healthy: {e}", file=sys.stderr)
            return 1
        # An interrupt reaches the command and the server too (same process group); on SIGTERM,
        # or when the command ends, the server is stopped here.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        with server:
            env = dict(os.environ)
            for name in args.url_env or ["FLOTILLA_URL"]:
                env[name] = server.url
            try:
                return subprocess.call(command, env=env)
            except KeyboardInterrupt:
                return 130


if __name__ == "__main__":
    sys.exit(main())
