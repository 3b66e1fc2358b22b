"""The differential suite: the same raw REST calls sent to a live MLflow 3.17.2 and to flotilla.

Starts both servers fresh (MLflow on SQLite with its artifact proxy, flotilla on a fresh data
directory), runs every scenario (scenarios/) against each, compares the answers field by field
(compare.py) and checks the differences against the list of expected ones (expected.py). Fails
on any unlisted difference and on any listed one that no longer happens. Writes a log of every
difference and error message (`differential.log`) and JUnit XML (`differential.xml`, one test
case per scenario) to --out, and prints a summary:

    differential: N calls, M identical, K listed differences, U unlisted, S stale list entries

Run through run.sh, or directly with the mlflow-server venv's Python:
    .venvs/mlflow-server/bin/python tests/differential/diff.py --bin target/debug/flotilla
"""

import argparse
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(HERE))

import flotilla_server  # noqa: E402
from compare import Difference, compare_calls, match_expected  # noqa: E402
from expected import EXPECTED  # noqa: E402
from recorder import Recorder  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402

MLFLOW_VENV = ROOT / ".venvs" / "mlflow-server"


def start_mlflow(tmp, log):
    port = flotilla_server.free_port()
    args = [MLFLOW_VENV / "bin" / "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
            "--artifacts-destination", f"{tmp}/art", "--serve-artifacts", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]
    server = flotilla_server.Server("mlflow", args, log, port=port, cwd=tmp)
    try:
        server.wait_ready("/health", timeout=180)
    except BaseException:
        server.stop()
        raise
    return server


def run_scenario(fn, recorder):
    """Runs one scenario; an exception is kept as the scenario's last "call"."""
    try:
        fn(recorder)
        return None
    except Exception:  # noqa: BLE001 - a scenario that breaks on one server is a finding
        return traceback.format_exc(limit=3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=flotilla_server.default_bin(), help="the flotilla binary")
    ap.add_argument("--out", default=str(ROOT / "target" / "test-output"), help="logs and JUnit XML")
    ap.add_argument("-k", dest="only", help="run only scenarios whose name contains this")
    ap.add_argument("--name", default="differential", help="names the output files (NAME.log, NAME.xml, "
                    "NAME-mlflow.log, NAME-flotilla.log)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="flotilla-diff-") as tmp:
        tmp = Path(tmp)
        (tmp / "flotilla").mkdir()
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            mlflow_f = pool.submit(start_mlflow, tmp, out / f"{args.name}-mlflow.log")
            flotilla_f = pool.submit(flotilla_server.start_flotilla, args.bin, tmp / "flotilla" / "data",
                                     log_path=out / f"{args.name}-flotilla.log")
            try:
                mlflow = mlflow_f.result()
                flotilla = flotilla_f.result()
            except BaseException:
                for f in (mlflow_f, flotilla_f):
                    if f.done() and f.exception() is None:
                        f.result().stop()
                raise
        print(f"{args.name}: servers up in {time.monotonic() - started:.1f} s "
              f"(mlflow {mlflow.url}, flotilla {flotilla.url})", flush=True)
        with mlflow, flotilla:
            return compare_all(mlflow.url, flotilla.url, args.only, out, args.name)


def compare_all(mlflow_url, flotilla_url, only, out, name):
    results, messages, total_calls, identical = [], [], 0, 0
    waited = {"mlflow": 0.0, "flotilla": 0.0}
    for scenario, fn in SCENARIOS:
        if only and only not in scenario:
            continue
        t0 = time.monotonic()
        m, f = Recorder("mlflow", mlflow_url), Recorder("flotilla", flotilla_url)
        m_err, f_err = run_scenario(fn, m), run_scenario(fn, f)
        mc, fc = m.normalised(), f.normalised()
        waited["mlflow"] += m.seconds
        waited["flotilla"] += f.seconds
        diffs = compare_calls(scenario, mc, fc, messages)
        if m_err or f_err:
            diffs.append(Difference(scenario, "<exception>", "<exception>", m_err, f_err))
        differing = {d.call for d in diffs}
        total_calls += len(mc)
        identical += sum(1 for c in mc if c.label not in differing)
        results.append((scenario, len(mc), diffs, time.monotonic() - t0))

    all_diffs = [d for _, _, diffs, _ in results for d in diffs]
    listed, unlisted, stale = match_expected(all_diffs, EXPECTED)
    if only:  # with -k, only entries of the scenarios that ran can be judged stale
        ran = {name for name, *_ in results}
        stale = [e for e in stale if e.get("scenario", "*") in ran]
    log = out / f"{name}.log"
    write_log(log, results, listed, unlisted, stale, messages)
    write_junit(out / f"{name}.xml", name, results, unlisted, stale)
    for d in unlisted:
        print(f"UNLISTED {d.describe()}")
    for e in stale:
        print(f"STALE    listed difference no longer seen: {e['call']} {e['path']} ({e['reason']})")
    per_call = {k: 1000 * v / max(total_calls, 1) for k, v in waited.items()}
    print(f"{name}: answers took {waited['mlflow']:.1f} s from mlflow ({per_call['mlflow']:.1f} ms a call), "
          f"{waited['flotilla']:.1f} s from flotilla ({per_call['flotilla']:.1f} ms a call)")
    print(f"{name}: {total_calls} calls, {identical} identical, {len(listed)} listed differences, "
          f"{len(unlisted)} unlisted, {len(stale)} stale list entries (log: {log})")
    return 1 if unlisted or stale else 0


def write_log(path, results, listed, unlisted, stale, messages):
    with open(path, "w") as log:
        for name, n, diffs, secs in results:
            log.write(f"== {name}: {n} calls, {len(diffs)} differences, {secs:.1f} s\n")
        log.write("\n== unlisted differences\n")
        log.writelines(d.describe() + "\n" for d in unlisted)
        log.write("\n== stale expected entries\n")
        log.writelines(f"{e}\n" for e in stale)
        log.write("\n== listed differences\n")
        log.writelines(f"{d.describe()}\n    reason: {e['reason']}\n" for d, e in listed)
        log.write("\n== error messages (compared loosely: mlflow | flotilla)\n")
        log.writelines(f"{s} / {c}:\n    mlflow:   {a}\n    flotilla: {b}\n" for s, c, a, b in messages)


def write_junit(path, suite, results, unlisted, stale):
    cases, failures = [], 0
    for name, n, _, secs in results:
        bad = [d.describe() for d in unlisted if d.scenario == name]
        bad += [f"stale: {e['call']} {e['path']}" for e in stale if e.get("scenario") == name]
        body = f'<failure message="{len(bad)} problems">{escape(chr(10).join(bad))}</failure>' if bad else ""
        failures += bool(bad)
        cases.append(f'<testcase classname="{suite}" name="{escape(name)} ({n} calls)" time="{secs:.2f}">{body}</testcase>')
    loose = [f"stale: {e['call']} {e['path']}" for e in stale if e.get("scenario", "*") == "*"]
    if loose:
        failures += 1
        cases.append(f'<testcase classname="{suite}" name="expected list"><failure message="stale">'
                     f'{escape(chr(10).join(loose))}</failure></testcase>')
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="{suite}" '
                    f'tests="{len(cases)}" failures="{failures}">\n' + "\n".join(cases) + "\n</testsuite>\n")


if __name__ == "__main__":
    sys.exit(main())
