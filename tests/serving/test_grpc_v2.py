"""gRPC V2 (`--grpc-port`) with the real `tritonclient.grpc`: server and model metadata,
readiness, infer with raw contents (the client's default) and typed contents for every fixture
case against the reference libraries' outputs, the repository extension (index, load, unload),
a message past the size limit refused, and `--auth basic` applied to the metadata's
`authorization` as to HTTP's header."""

import base64
import os
import socket

import numpy as np
import pytest
from mlflow import MlflowClient

from serving_util import OK_CASES, FlotillaServer, Registrar, assert_output, first_case, flotilla_server, unique

grpcclient = pytest.importorskip("tritonclient.grpc")
from tritonclient.utils import InferenceServerException  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRegistrar(Registrar):
    """Registers through this module's server (not the suite's tracking URI)."""

    def register(self, model_dir, name=None, via="artifact_uri"):
        return super().register(model_dir, name, via="artifact_uri")


@pytest.fixture(scope="module")
def grpc(tmp_path_factory):
    """A server with `--grpc-port`, a client on it, and a registrar on its HTTP side."""
    port = free_port()
    server = FlotillaServer(tmp_path_factory.mktemp("grpc") / "data", "--grpc-port", str(port))
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    yield client, OwnRegistrar(MlflowClient(tracking_uri=server.url))
    client.close()
    server.stop()


def test_server_metadata_and_health(grpc):
    client, _ = grpc
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "flotilla"
    assert {"model_repository", "binary_tensor_data"} <= set(meta["extensions"])


@pytest.mark.parametrize("case", OK_CASES, ids=str)
def test_infer_with_raw_contents_matches_the_reference(grpc, case):
    client, registrar = grpc
    name = registrar.model_for(case)
    rows = case.rows()
    inp = grpcclient.InferInput(case.input_name, list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows)
    result = client.infer(name, [inp])
    response = result.get_response(as_json=True)
    assert response["model_name"] == name and response["model_version"] == "1"
    for output, expected in case.expected.items():
        got = result.as_numpy(output)
        assert got is not None, f"no output {output}: {[o['name'] for o in response['outputs']]}"
        datatype = next(o["datatype"] for o in response["outputs"] if o["name"] == output)
        assert_output(output, got, datatype, expected, case.rtol)


def test_metadata_readiness_and_typed_contents(grpc):
    client, registrar = grpc
    case = first_case("xgboost-regression-ubj", "lightgbm-regression-100")
    name = registrar.model_for(case)
    assert client.is_model_ready(name)
    meta = client.get_model_metadata(name, as_json=True)
    assert meta["name"] == name and meta["versions"] == ["1"]
    assert meta["inputs"][0]["name"] == case.input_name and meta["inputs"][0]["datatype"] == "FP32"
    assert not client.is_model_ready(unique("absent"))
    # Typed contents (`contents.fp32_contents`) rather than raw bytes, as other gRPC clients send.
    from tritonclient.grpc import service_pb2

    rows = case.rows()[:4]
    request = service_pb2.ModelInferRequest(model_name=name)
    tensor = request.inputs.add(name=case.input_name, datatype="FP32", shape=list(rows.shape))
    tensor.contents.fp32_contents.extend(rows.reshape(-1).tolist())
    answer = client._client_stub.ModelInfer(request)
    got = np.frombuffer(answer.raw_output_contents[0], dtype=np.float32)
    assert_output("predict", got, "FP32", case.expected["predict"][:4], case.rtol)


def test_repository_index_load_and_unload(grpc):
    client, registrar = grpc
    case = first_case("lightgbm-regression-100", "xgboost-regression-ubj")
    name = registrar.register(case.model_dir, unique("grpc-repo"))[0]

    def state():
        index = client.get_model_repository_index(as_json=True)["models"]
        return next(m.get("state") for m in index if m["name"] == name)

    assert state() == "UNAVAILABLE"
    client.load_model(name)
    assert state() == "READY"
    client.unload_model(name)
    assert state() == "UNAVAILABLE"


def test_a_message_past_the_limit_is_refused(grpc):
    client, registrar = grpc
    case = first_case("xgboost-regression-ubj", "lightgbm-regression-100")
    name = registrar.model_for(case)
    width = case.rows().shape[1]
    rows = np.zeros((3 * 1024 * 1024 // (4 * width) + 1, width), dtype=np.float32)  # just over 2 MiB
    inp = grpcclient.InferInput(case.input_name, list(rows.shape), "FP32")
    inp.set_data_from_numpy(rows)
    with pytest.raises(InferenceServerException) as e:
        client.infer(name, [inp])
    # tonic's answer to a message past `max_decoding_message_size`, before any of it is decoded.
    assert "OUT_OF_RANGE" in str(e.value.status()), e.value
    assert "too large" in e.value.message(), e.value.message()
    # The connection still serves.
    assert client.is_server_live()


def test_authentication_as_for_http(tmp_path):
    port = free_port()
    password = "grpc-" + unique("pw")
    server = flotilla_server.start_flotilla(
        flotilla_server.default_bin(),
        tmp_path / "data",
        "--auth",
        "basic",
        "--grpc-port",
        str(port),
        # Its own store (also in the PostgreSQL pass): a store's admin password is set at its first start.
        env={**{k: v for k, v in os.environ.items() if k != "FLOTILLA_DATABASE_URL"}, "FLOTILLA_ADMIN_PASSWORD": password},
    )
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        assert client.is_server_live()  # a probe, open as /v2/health/live
        inp = grpcclient.InferInput("input", [1, 2], "FP32")
        inp.set_data_from_numpy(np.zeros((1, 2), dtype=np.float32))
        for headers in (None, {"authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}):
            with pytest.raises(InferenceServerException) as e:
                client.infer("anything", [inp], headers=headers)
            assert "UNAUTHENTICATED" in str(e.value.status()), e.value
            with pytest.raises(InferenceServerException) as e:
                client.get_server_metadata(headers=headers)
            assert "UNAUTHENTICATED" in str(e.value.status()), e.value
        good = {"authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}
        assert client.get_server_metadata(headers=good, as_json=True)["name"] == "flotilla"
        with pytest.raises(InferenceServerException) as e:
            client.infer(unique("absent"), [inp], headers=good)
        assert "NOT_FOUND" in str(e.value.status()), e.value
    finally:
        client.close()
        server.stop()
