"""The comparison and normalisation themselves, as tables (no server): run by run.sh first.

    .venvs/mlflow-server/bin/python -m unittest tests/differential/test_compare.py
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import MISSING, Difference, compare_calls, diff_values, match_expected  # noqa: E402
from recorder import Call, Recorder  # noqa: E402


def diffs(a, b):
    out = []
    diff_values(a, b, "body", out)
    return out


class DiffValues(unittest.TestCase):
    def test_table(self):
        table = [
            ({"a": 1}, {"a": 1}, []),
            ({"a": 1}, {}, [("body.a", 1, MISSING)]),
            ({}, {"b": "x"}, [("body.b", MISSING, "x")]),
            ({"a": 1}, {"a": "1"}, [("body.a.<type>", 1, "1")]),
            ({"a": 1}, {"a": 1.0}, []),  # JSON numbers: 1 and 1.0 are one value
            ({"a": True}, {"a": 1}, [("body.a.<type>", True, 1)]),
            ({"l": [1, 2]}, {"l": [1, 3]}, [("body.l[1]", 2, 3)]),
            ({"l": [1, 2]}, {"l": [1]}, [("body.l.<len>", 2, 1)]),
            ({"l": [1, 2]}, {"l": [2, 1]}, [("body.l.<order>", [1, 2], [2, 1])]),
        ]
        for a, b, want in table:
            self.assertEqual(diffs(a, b), want, (a, b))


class Normalise(unittest.TestCase):
    def normalised(self, body, path="/runs/get", ids=()):
        r = Recorder("test", "http://127.0.0.1:1")
        for value, name in ids:
            r.remember(value, name)
        r.calls.append(Call("c", "GET", path, None, 200, body, history="get-history" in path))
        return r.normalised()[0].body

    def test_ids_times_names_tokens_hosts(self):
        run = "0123456789abcdef0123456789abcdef"
        body = {"run_id": run, "artifact_uri": f"mlflow-artifacts:/7/{run}/artifacts", "start_time": 1765000000000,
                "step_time": 5, "run_name": "bold-fox-12", "next_page_token": "abc",
                "url": "http://127.0.0.1:5000/x"}
        self.assertEqual(self.normalised(body, ids=[(run, "run"), ("7", "exp")]), {
            "run_id": "<run>", "artifact_uri": "mlflow-artifacts:/<exp>/<run>/artifacts", "start_time": "<now>",
            "step_time": 5, "run_name": "<generated>", "next_page_token": "<token>", "url": "<host>/x"})

    def test_sets_sorted_histories_kept(self):
        tags = [{"key": "b", "value": "1"}, {"key": "a", "value": "2"}]
        self.assertEqual(self.normalised({"tags": tags})["tags"], sorted(tags, key=lambda t: t["key"]))
        points = [{"key": "m", "step": 2}, {"key": "m", "step": 1}]
        self.assertEqual(self.normalised({"metrics": points}, path="/metrics/get-history")["metrics"], points)
        self.assertEqual(self.normalised({"metrics": points})["metrics"], points[::-1])


class Expected(unittest.TestCase):
    def test_listed_unlisted_stale(self):
        found = [Difference("s", "create x", "status", 200, 400), Difference("s", "get y", "body.a", 1, 2)]
        entries = [{"scenario": "s", "call": "create *", "path": "status", "reason": "r"},
                   {"call": "gone", "path": "*", "reason": "r"}]
        listed, unlisted, stale = match_expected(found, entries)
        self.assertEqual([d.call for d, _ in listed], ["create x"])
        self.assertEqual([d.call for d in unlisted], ["get y"])
        self.assertEqual([e["call"] for e in stale], ["gone"])

    def test_messages_are_kept_not_compared(self):
        m = [Call("c", "GET", "/p", None, 404, {"error_code": "X", "message": "one"})]
        f = [Call("c", "GET", "/p", None, 404, {"error_code": "X", "message": "two"})]
        messages = []
        self.assertEqual(compare_calls("s", m, f, messages), [])
        self.assertEqual(messages, [("s", "c", "one", "two")])


if __name__ == "__main__":
    unittest.main()
