"""flotilla's profile sketches read by the Apache DataSketches Python package.

The Rust example `sketch_bytes` (crates/flotilla-profile/examples) profiles a generated CSV and
writes its KLL, HLL and frequent-items sketches in the DataSketches binary format, with the
estimates flotilla reads from them. Here the reference library reads the same bytes: it must
answer the same quantiles, distinct count and frequent items, within the sketches' bounds of
the exact answers computed from the data itself; and sketches it builds from the same values
must agree with flotilla's (the same hashing), so profiles merge across languages.
"""

import csv
import json
import os
from bisect import bisect_right
from pathlib import Path

import datasketches as ds
import pytest

OUT = Path(os.environ.get("FLOTILLA_SKETCHES", ""))


@pytest.fixture(scope="module")
def data():
    if not OUT.is_dir():
        pytest.fail("FLOTILLA_SKETCHES must name the folder the sketch_bytes example wrote")
    xs, cities = [], []
    with open(OUT / "data.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["x"] != "":
                xs.append(float(row["x"]))
            cities.append(row["city"])
    expected = json.loads((OUT / "expected.json").read_text())
    return sorted(xs), cities, expected


def test_kll_bytes_give_flotillas_quantiles_within_the_rank_bound(data):
    xs, _, expected = data
    kll = ds.kll_doubles_sketch.deserialize((OUT / "x.kll").read_bytes())
    assert kll.n == len(xs) == expected["x"]["n"]
    assert kll.get_min_value() == xs[0]
    assert kll.get_max_value() == xs[-1]
    bound = kll.normalized_rank_error(False)
    assert bound == pytest.approx(expected["x"]["rank_error"])
    assert bound < 0.02
    for q in expected["x"]["quantiles"]:
        value = kll.get_quantile(q["rank"])
        assert value == q["value"], f"rank {q['rank']}"
        exact_rank = bisect_right(xs, value) / len(xs)
        assert abs(exact_rank - q["rank"]) <= bound, f"rank {q['rank']}: {exact_rank}"


def test_hll_bytes_give_flotillas_distinct_count_and_hash_alike(data):
    _, cities, expected = data
    hll = ds.hll_sketch.deserialize((OUT / "city.hll").read_bytes())
    assert hll.get_estimate() == pytest.approx(expected["city"]["distinct"], rel=1e-12)
    truth = len(set(cities))
    assert hll.get_lower_bound(3) <= truth <= hll.get_upper_bound(3)
    # The reference library hashing the same strings lands in the same registers.
    ours = ds.hll_sketch(12, ds.tgt_hll_type.HLL_4)
    for c in cities:
        ours.update(c)
    assert ours.get_estimate() == pytest.approx(hll.get_estimate(), rel=1e-12)
    union = ds.hll_union(12)
    union.update(hll)
    union.update(ours)
    # A union (what a merge does) of a sketch with itself: the same registers, so the same count
    # within the bounds (it estimates from the registers, not the streaming HIP estimator).
    assert union.get_lower_bound(3) <= truth <= union.get_upper_bound(3)
    assert union.get_estimate() == pytest.approx(hll.get_estimate(), rel=0.02)


def test_frequent_items_bytes_give_the_same_top_items(data):
    _, cities, expected = data
    fi = ds.frequent_strings_sketch.deserialize((OUT / "city.freq").read_bytes())
    assert fi.total_weight == len(cities)
    rows = fi.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    top = expected["city"]["summary"]["top"]
    by_item = {item: (est, lo, hi) for item, est, lo, hi in rows}
    for t in top:
        assert by_item[t["value"]] == (t["estimate"], t["lower"], t["upper"]), t["value"]
    paris = cities.count("Paris")
    est, lo, hi = by_item["Paris"]
    assert lo <= paris <= hi
    assert top[0]["value"] == "Paris"
