"""The same model through every inference protocol flotilla speaks, one connection, one load
generator: V2 JSON over HTTP/1.1, MLflow's scoring protocol (`/invocations`, `dataframe_split`
JSON and CSV) over HTTP/1.1, and V2 over gRPC (HTTP/2, raw tensor contents), each driven by
h2load (nghttp2) with one client and one request in flight. Prints the median requests/s of
--reps runs per protocol and batch size, with the ratios the issue asks for:
`/invocations` against V2 JSON (target: within 20 %) and gRPC against V2 JSON (target: >= 1).

Run through scripts/bench-protocols.sh, which installs h2load and the serving venv."""

import argparse
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "tests" / "serving"))
import flotilla_server  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def register(url, model_dir):
    """Registers the fixture model through the real mlflow client; returns its name."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp = client.create_experiment("bench-protocols")
    run = client.create_run(exp)
    client.log_artifacts(run.info.run_id, str(model_dir), "model")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("bench")
    source = f"{client.get_run(run.info.run_id).info.artifact_uri}/model"
    client.create_model_version("bench", source, run_id=run.info.run_id)
    return "bench"


def grpc_body(name, input_name, rows):
    """A length-prefixed ModelInferRequest with the rows as raw FP32 contents."""
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=name)
    request.inputs.add(name=input_name, datatype="FP32", shape=list(rows.shape))
    request.raw_input_contents.append(rows.astype("<f4").tobytes())
    message = request.SerializeToString()
    return b"\x00" + struct.pack(">I", len(message)) + message


def bodies(name, input_name, rows):
    """(protocol, path, content type, body) for each protocol."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=[str(i) for i in range(rows.shape[1])])
    v2 = {"inputs": [{"name": input_name, "shape": list(rows.shape), "datatype": "FP32", "data": rows.reshape(-1).tolist()}]}
    split = {"dataframe_split": json.loads(df.to_json(orient="split", index=False))}
    return [
        ("V2 JSON (HTTP/1.1)", f"/v2/models/{name}/infer", "application/json", json.dumps(v2).encode()),
        ("/invocations dataframe_split", f"/invocations/models/{name}", "application/json", json.dumps(split).encode()),
        ("/invocations CSV", f"/invocations/models/{name}", "text/csv", df.to_csv(index=False).encode()),
        ("V2 gRPC (raw contents)", "/inference.GRPCInferenceService/ModelInfer", "application/grpc", grpc_body(name, input_name, rows)),
    ]


def h2load(url, body, content_type, requests, http1):
    with tempfile.NamedTemporaryFile(suffix=".body", delete=False) as f:
        f.write(body)
    args = ["h2load", "-c1", "-m1", "-t1", f"-n{requests}", "-d", f.name, "-H", f"content-type: {content_type}"]
    if http1:
        args.append("--h1")
    else:
        args += ["-H", "te: trailers"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=600)
    os.unlink(f.name)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out.stdout)
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out.stdout)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out.stdout)
    if not (done and rate) or int(done.group(3)) or int(done.group(2)) != requests:
        raise RuntimeError(f"h2load failed:\n{out.stdout}\n{out.stderr}")
    return float(rate.group(1)), mean.group(1) if mean else "?"


def check_grpc(port, name, input_name, rows):
    """One real gRPC call with the same request, so a benchmark of errors cannot pass."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    inp = grpcclient.InferInput(input_name, list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows)
    assert client.infer(name, [inp]).as_numpy("predict") is not None
    client.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--flotilla-bin", default=str(ROOT / "target" / "release" / "flotilla"))
    p.add_argument("--fixture", default="xgboost-regression-ubj", help="a case of tests/serving's fixtures")
    p.add_argument("--fixtures", default=os.environ.get("FLOTILLA_FIXTURES") or str(ROOT / "target" / "test-output" / "fixtures"))
    p.add_argument("--requests", type=int, default=20000, help="requests per run")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rows", default="1,100", help="batch sizes")
    args = p.parse_args()

    case_dir = Path(args.fixtures) / args.fixture
    case = json.loads((case_dir / "case.json").read_text())
    grpc_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = flotilla_server.start_flotilla(
            args.flotilla_bin, Path(tmp) / "data", "--grpc-port", str(grpc_port)
        )
        try:
            name = register(server.url, case_dir / "model")
            load = os.getloadavg()
            print(f"flotilla {args.flotilla_bin}, model {args.fixture}, {os.cpu_count()} cores, "
                  f"load average before {load[0]:.2f}; h2load -c1 -m1, {args.requests} requests x {args.reps} runs")
            print()
            print("| protocol | rows | median req/s | mean latency (last run) | vs V2 JSON |")
            print("|---|---:|---:|---:|---:|")
            for n in [int(r) for r in args.rows.split(",")]:
                rows = np.tile(np.asarray(case["rows"], dtype=np.float32), (n // len(case["rows"]) + 1, 1))[:n]
                check_grpc(grpc_port, name, case["input"], rows)
                plans = []
                for protocol, path, ctype, body in bodies(name, case["input"], rows):
                    grpc = ctype == "application/grpc"
                    url = f"http://127.0.0.1:{grpc_port}{path}" if grpc else server.url + path
                    h2load(url, body, ctype, min(args.requests, 2000), http1=not grpc)  # warm-up
                    plans.append((protocol, url, ctype, body, grpc, []))
                # Round robin: each protocol's runs are spread over the same minutes, so a busy
                # machine's drift falls on all of them alike.
                for _ in range(args.reps):
                    for _, url, ctype, body, grpc, runs in plans:
                        runs.append(h2load(url, body, ctype, args.requests, http1=not grpc))
                baseline = statistics.median(r for r, _ in plans[0][5])
                for protocol, *_, runs in plans:
                    rate = statistics.median(r for r, _ in runs)
                    print(f"| {protocol} | {n} | {rate:,.0f} | {runs[-1][1]} | {rate / baseline:.2f} |", flush=True)
            load = os.getloadavg()
            print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
