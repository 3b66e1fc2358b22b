"""Comparing MLflow's and flotilla's answers to the same scripted calls, field by field.

`compare_calls` walks two normalised call lists (recorder.py) in step and yields one
`Difference` per field that differs: the status, then the JSON body by path
(`body.run.info.status`), reporting a field one side lacks, a different type, a different value,
a different list length. Error messages are compared loosely: they are kept (`messages`) but never
make a difference. `match_expected` splits differences into listed ones (expected.py) and
unlisted ones, and names listed entries that matched nothing.
"""

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase

MISSING = "<absent>"


@dataclass(frozen=True)
class Difference:
    scenario: str
    call: str
    path: str
    mlflow: object
    flotilla: object

    def describe(self):
        return f"{self.scenario} / {self.call}: {self.path}: mlflow={_short(self.mlflow)} flotilla={_short(self.flotilla)}"


def _short(value, limit=160):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def diff_values(a, b, path, out):
    """Appends (path, a, b) for every place the JSON values `a` (MLflow) and `b` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{key}"
            if key not in b:
                out.append((sub, a[key], MISSING))
            elif key not in a:
                out.append((sub, MISSING, b[key]))
            else:
                diff_values(a[key], b[key], sub, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) == len(b) and a != b and _canonical(a) == _canonical(b):
            out.append((f"{path}.<order>", a, b))  # the same items in another order: one difference
            return
        if len(a) != len(b):
            out.append((f"{path}.<len>", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff_values(x, y, f"{path}[{i}]", out)
    elif _type(a) != _type(b):
        out.append((f"{path}.<type>", a, b))
    elif a != b:
        out.append((path, a, b))


def _canonical(items):
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def compare_calls(scenario, mlflow_calls, flotilla_calls, messages):
    """The differences between two runs of one scenario; messages go to `messages` as
    (scenario, call, mlflow message, flotilla message) where either side has one."""
    diffs = []
    for m, f in zip(mlflow_calls, flotilla_calls):
        if m.label != f.label:
            diffs.append(Difference(scenario, m.label, "<sequence>", m.label, f.label))
            return diffs
        if m.status != f.status:
            diffs.append(Difference(scenario, m.label, "status", m.status, f.status))
        mb, fb = _strip_message(m.body), _strip_message(f.body)
        if _message(m.body) or _message(f.body):
            messages.append((scenario, m.label, _message(m.body), _message(f.body)))
        found = []
        diff_values(mb, fb, "body", found)
        diffs.extend(Difference(scenario, m.label, p, a, b) for p, a, b in found)
    if len(mlflow_calls) != len(flotilla_calls):
        longer = mlflow_calls if len(mlflow_calls) > len(flotilla_calls) else flotilla_calls
        diffs.append(Difference(scenario, longer[min(len(mlflow_calls), len(flotilla_calls))].label,
                                "<calls>", len(mlflow_calls), len(flotilla_calls)))
    return diffs


def _message(body):
    return body.get("message") if isinstance(body, dict) and "error_code" in body else None


def _strip_message(body):
    if isinstance(body, dict) and "error_code" in body:
        return {k: v for k, v in body.items() if k != "message"}
    return body


def match_expected(diffs, expected):
    """(listed: [(Difference, entry)], unlisted: [Difference], stale: [entry]).

    An entry matches a difference when its `scenario` (default "*"), `call` and `path` globs all
    match; an entry matching nothing is stale (the difference it lists has gone)."""
    listed, unlisted, used = [], [], set()
    for d in diffs:
        for i, e in enumerate(expected):
            if (fnmatchcase(d.scenario, e.get("scenario", "*")) and fnmatchcase(d.call, e["call"])
                    and fnmatchcase(d.path, e["path"])):
                listed.append((d, e))
                used.add(i)
                break
        else:
            unlisted.append(d)
    stale = [e for i, e in enumerate(expected) if i not in used]
    return listed, unlisted, stale
