"""Artifact upload, listing and download through the mlflow-artifacts proxy."""

import hashlib
import os
import shutil

import mlflow
import pytest
from mlflow.artifacts import download_artifacts, load_dict, load_text

# relative path -> content; directories are implied
TREE = {
    "readme.txt": b"top level\n",
    "config.json": b'{"a": 1}',
    "sub/b.txt": b"nested once\n",
    "sub/deeper/c.bin": bytes(range(256)) * 40,
    "sub/deeper/deepest/d.csv": b"x,y\n1,2\n",
    "other/e.txt": b"",  # empty file
    "odd names/with space+plus.txt": b"url-quoted on the wire\n",
    "odd names/ünïcödé.txt": "non-ascii path\n".encode(),
}


def write_tree(root, tree):
    for rel, content in tree.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)


def read_tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
    return out


def fresh_dir(path):
    """2.x clients insist that a download destination exists."""
    path.mkdir(parents=True)
    return str(path)


def listing(client, run_id, path=None):
    """(path, is_dir, size) rows; a directory has no size, an empty file may omit its 0."""
    rows = client.list_artifacts(run_id, path)
    return sorted((f.path, f.is_dir, None if f.is_dir else (f.file_size or 0)) for f in rows)


def test_log_artifacts_nested_then_list_each_level(client, run, tmp_path):
    write_tree(tmp_path / "src", TREE)
    run_id = run.info.run_id

    client.log_artifacts(run_id, str(tmp_path / "src"), artifact_path="data")

    expected = {
        None: [("data", True, None)],
        "data": [
            ("data/config.json", False, 8),
            ("data/odd names", True, None),
            ("data/other", True, None),
            ("data/readme.txt", False, 10),
            ("data/sub", True, None),
        ],
        "data/sub": [("data/sub/b.txt", False, 12), ("data/sub/deeper", True, None)],
        "data/sub/deeper": [("data/sub/deeper/c.bin", False, 10240), ("data/sub/deeper/deepest", True, None)],
        "data/sub/deeper/deepest": [("data/sub/deeper/deepest/d.csv", False, 8)],
        "data/other": [("data/other/e.txt", False, 0)],
        "data/odd names": [
            ("data/odd names/with space+plus.txt", False, 23),
            ("data/odd names/ünïcödé.txt", False, 15),
        ],
        "data/does-not-exist": [],
        "data/readme.txt": [],  # listing a file is an empty listing to the client
    }
    for path, want in expected.items():
        assert listing(client, run_id, path) == want, path


def test_download_directory_and_single_file(client, run, tmp_path):
    write_tree(tmp_path / "src", TREE)
    run_id = run.info.run_id
    client.log_artifacts(run_id, str(tmp_path / "src"))

    whole = client.download_artifacts(run_id, "", fresh_dir(tmp_path / "all"))
    sub = client.download_artifacts(run_id, "sub", fresh_dir(tmp_path / "sub"))
    one = download_artifacts(run_id=run_id, artifact_path="sub/deeper/c.bin", dst_path=fresh_dir(tmp_path / "one"))

    assert read_tree(whole) == TREE
    assert read_tree(sub) == {k[len("sub/"):]: v for k, v in TREE.items() if k.startswith("sub/")}
    with open(one, "rb") as f:
        assert f.read() == TREE["sub/deeper/c.bin"]


def test_log_text_and_dict_then_load_by_uri(experiment_id):
    with mlflow.start_run(experiment_id=experiment_id) as active:
        mlflow.log_text("héllo wörld\n", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2, 3]}, "notes/conf.json")
    base = f"runs:/{active.info.run_id}"

    assert load_text(f"{base}/notes/hello.txt") == "héllo wörld\n"
    assert load_dict(f"{base}/notes/conf.json") == {"k": [1, 2, 3]}
    assert load_text(f"{active.info.artifact_uri}/notes/hello.txt") == "héllo wörld\n"


def test_overwrite_replaces_content(client, run, tmp_path):
    run_id = run.info.run_id
    for content in (b"first version, longer", b"second"):
        (tmp_path / "same.txt").write_bytes(content)
        client.log_artifact(run_id, str(tmp_path / "same.txt"))

    back = client.download_artifacts(run_id, "same.txt", fresh_dir(tmp_path / "back"))

    with open(back, "rb") as f:
        assert f.read() == b"second"
    assert listing(client, run_id) == [("same.txt", False, 6)]


@pytest.fixture
def big_dir(tmp_path):
    """A scratch dir emptied after the test: pytest keeps tmp dirs, 400 MB each time here."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_200_mb_file_round_trip(client, run, big_dir):
    size_mb = 200
    src = big_dir / "big.bin"
    chunk = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(size_mb):
            f.write(i.to_bytes(4, "little") + chunk[4:])  # no two MiB blocks alike
    run_id = run.info.run_id

    client.log_artifact(run_id, str(src), artifact_path="blobs")

    assert listing(client, run_id, "blobs") == [("blobs/big.bin", False, size_mb << 20)]
    downloaded = client.download_artifacts(run_id, "blobs/big.bin", fresh_dir(big_dir / "back"))
    assert sha256_of(downloaded) == sha256_of(src)
