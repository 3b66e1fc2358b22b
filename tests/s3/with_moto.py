"""Runs a command with moto's S3 server (in memory) on a free loopback port and one bucket.

    python3 tests/s3/with_moto.py --bucket NAME [--log FILE] -- command args...

Sets AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION for the command,
stops moto afterwards and exits with the command's status. moto_server comes from .venvs/s3
(tests/s3/setup.sh) or $FLOTILLA_MOTO_SERVER. Standard library only.
"""

import argparse
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_bucket(port, bucket):
    """PUT /bucket; True once moto answers 200 (also the readiness probe)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("PUT", f"/{bucket}", body=b"")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    moto = os.environ.get("FLOTILLA_MOTO_SERVER") or str(ROOT / ".venvs/s3/bin/moto_server")
    port = free_port()
    with open(args.log, "wb") as log:
        server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not create_bucket(port, args.bucket):
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"with_moto: moto_server did not start (see {args.log})", file=sys.stderr)
                return 1
            time.sleep(0.1)
        env = dict(
            os.environ,
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
        )
        return subprocess.call(command, env=env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
