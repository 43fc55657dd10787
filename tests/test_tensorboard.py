"""TensorBoard logs, read back with TensorBoard's own reader and through a real
``tensorboard`` server's HTTP data API, as the dashboard reads them."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    subprocess.run([sys.executable, "-m", "experiments.run", "-m", "activation=relu,tanh",
                    "trainer.epochs=3", "dataset.subset=400", f"results_dir={root}",
                    "trainer.verbose=false"], cwd=root, check=True, capture_output=True,
                   timeout=600)
    return root / "default"


@pytest.mark.slow  # shares its sweep with the server test
def test_event_files_hold_every_epoch(sweep):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = sorted(p for p in (sweep / "tensorboard").iterdir() if p.is_dir())
    # one event directory per run, named by the value the sweep varied
    assert [p.name for p in logs] == ["activation=relu", "activation=tanh"]
    for log in logs:
        assert not [p for p in log.iterdir() if p.is_dir()]
        run = Path((log / "run.txt").read_text().strip())
        assert json.loads((run / "result.json").read_text())["tensorboard"] == str(log)
        acc = EventAccumulator(str(log), size_guidance={"tensors": 0})
        acc.Reload()
        tags = set(acc.Tags()["tensors"])
        assert {"loss/train", "loss/validation", "accuracy/train", "accuracy/validation",
                "learning_rate", "epoch_time_s"} <= tags
        assert not [t for t in tags if t.startswith(("epoch_epoch", "epoch_loss", "final/"))]
        for tag in ("loss/train", "loss/validation"):
            assert [e.step for e in acc.Tensors(tag)] == [1, 2, 3]
        import pandas as pd
        import tensorflow as tf

        history = pd.read_csv(run / "history.csv")
        for tag, column in (("loss/train", "loss"), ("accuracy/validation", "val_accuracy")):
            logged = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
            assert logged == pytest.approx(list(history[column]), rel=1e-6)
        # the test split's final metrics: one point each, at the last epoch
        result = json.loads((run / "result.json").read_text())
        for name, tag in (("test_accuracy", "accuracy/test"), ("test_loss", "loss/test")):
            (event,) = acc.Tensors(tag)
            assert event.step == 3
            assert float(tf.make_ndarray(event.tensor_proto)) == pytest.approx(
                result["metrics"][name], rel=1e-6)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json", "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_tensorboard_server_lists_runs_hparams_and_metrics(sweep):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir",
                               str(sweep / "tensorboard"),
                               "--host", "127.0.0.1", "--port", str(port),
                               "--reload_interval", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ})
    try:
        deadline = time.time() + 90
        runs = None
        while time.time() < deadline:
            try:
                runs = _request(f"{base}/data/runs")
                if len(runs) >= 2:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert runs, "tensorboard did not answer"
        # each run once, under the swept value (the folder of the sweep's HParams columns
        # holds no scalars, so it is not a run of the scalar dashboards)
        assert sorted(r for r in runs if r != ".") == ["activation=relu", "activation=tanh"]

        experiment = {}
        while time.time() < deadline:
            experiment = _request(f"{base}/data/plugin/hparams/experiment",
                                  {"experimentName": ""})
            if experiment.get("hparamInfos") and experiment.get("metricInfos"):
                break
            time.sleep(1)
        # the columns are the keys the sweep varied, with their values
        assert [(h["name"], sorted(h["domainDiscrete"])) for h in experiment["hparamInfos"]] \
            == [("activation.name", ["relu", "tanh"])]
        metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
        assert {"accuracy/test", "loss/test", "loss/validation", "loss/train"} <= metrics
        assert not [m for m in metrics if m.startswith("final/")]

        groups = _request(f"{base}/data/plugin/hparams/session_groups", {
            "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS",
                                                      "STATUS_FAILURE", "STATUS_RUNNING"],
            "colParams": [], "startIndex": 0, "sliceSize": 100})
        sessions = groups["sessionGroups"]
        assert len(sessions) == 2
        assert {s["hparams"]["activation.name"] for s in sessions} == {"relu", "tanh"}
        folders = [Path((sweep / "tensorboard" / s["name"] / "run.txt").read_text().strip())
                   for s in sessions]
        results = {json.loads((f / "result.json").read_text())["metrics"]["test_accuracy"]
                   for f in folders}
        served = set()
        for s in sessions:
            for value in s["metricValues"]:
                if value["name"]["tag"] == "accuracy/test":
                    served.add(value["value"])
        assert sorted(served) == pytest.approx(sorted(results), rel=1e-6)
        # no one-point final/* charts in the scalars tab
        for run in ("activation=relu", "activation=tanh"):
            tags = _request(f"{base}/data/plugin/scalars/tags")[run]
            assert not [t for t in tags if t.startswith("final/")]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _events(folder):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    out = []
    for file in sorted(Path(folder).glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(file)):
            event = event_pb2.Event.FromString(record.numpy())
            out += [(event.step, v.tag, v.metadata.SerializeToString(),
                     v.tensor.SerializeToString()) for v in event.summary.value]
    return out


def test_scalars_write_the_events_tf_summary_scalar_writes(tmp_path):
    """The logger against TensorFlow's own ``tf.summary.scalar``: the same events (step,
    tag, plugin metadata, tensor bytes), None and NaN left out, rows of other sizes and a
    second run's writer."""
    import tensorflow as tf

    from experiments.tensorboard_log import TensorBoardLog

    rows = [(1, {"loss/train": 0.25, "accuracy/train": 0.5, "learning_rate": 1e-3,
                 "skipped": None, "nan": float("nan")}),
            (2, {"loss/train": 1 / 3, "accuracy/train": 0.75, "learning_rate": 1e-3}),
            (3, {"loss/train": 2.0e-7})]
    for run in ("a", "b"):
        log = TensorBoardLog(tmp_path / run)
        reference = tf.summary.create_file_writer(str(tmp_path / f"ref_{run}"))
        for step, values in rows:
            log.scalars(step, values)
            with reference.as_default():
                for tag, value in values.items():
                    if value is not None and value == value:
                        tf.summary.scalar(tag, value, step=step)
        log.close()
        reference.close()
        ours, theirs = _events(tmp_path / run), _events(tmp_path / f"ref_{run}")
        assert len(theirs) == 7
        assert ours == theirs


def test_final_metrics_go_to_the_hparams_session_not_to_final_scalars(tmp_path):
    """``hparams``: the session's start record (its hyperparameters) and the test split's
    final metrics as ``<metric>/test`` at the last epoch; no ``final/*`` scalar, and no second
    point on a train or validation curve (their last epoch is the HParams value)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import metadata as hp_metadata

    from experiments.tensorboard_log import TensorBoardLog

    log = TensorBoardLog(tmp_path)
    for epoch in (1, 2, 3):
        log.history_row({"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 2.0 / epoch})
    log.hparams({"activation.name": "relu"}, {"test_accuracy": 0.75, "test_loss": 0.5,
                                              "val_loss": 0.7, "train_loss": 0.3,
                                              "test_nan": float("nan"),
                                              "epochs_completed": 3}, "trial")
    log.close()
    events = _events(tmp_path)
    tags = [tag for _, tag, _, _ in events]
    assert not [t for t in tags if t.startswith("final/")]
    assert tags.count("loss/train") == 3 and tags.count("loss/validation") == 3
    assert hp_metadata.SESSION_START_INFO_TAG in tags
    from tensorflow.core.framework import tensor_pb2

    test = {tag: (step, float(tf.make_ndarray(tensor_pb2.TensorProto.FromString(tensor))))
            for step, tag, _, tensor in events if tag.endswith("/test")}
    assert test == {"accuracy/test": (3, 0.75), "loss/test": (3, 0.5)}
    from experiments.tensorboard_log import metric_tag

    assert metric_tag("val_accuracy") == "accuracy/validation"
    assert metric_tag("epochs_completed") is None


def test_the_experiment_summary_leaves_out_a_result_the_report_cannot_read(tmp_path,
                                                                          monkeypatch):
    """The HParams experiment summary reads each run through ``experiments.runfolder``:
    a ``result.json`` of the wrong shape (a metric that is not a number), which the report
    lists as unreadable, adds no value to a column and no metric."""
    from tensorboard.plugins.hparams import api as hp

    from experiments.tensorboard_log import write_experiment

    def run(folder, rate, metrics):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "result.json").write_text(json.dumps(
            {"status": "completed", "config": {"optimizer": {"learning_rate": rate}},
             "metrics": metrics}), encoding="utf-8")

    run("a", 0.1, {"val_loss": 0.5})
    run("b", 0.01, {"val_loss": 0.25})
    run("c", 0.5, {"val_loss": 0.125, "test_accuracy": "high"})
    seen = {}
    monkeypatch.setattr(hp, "hparams_config", lambda hparams, metrics: seen.update(
        columns={h.name: h.domain.values for h in hparams},
        metrics=[m.as_proto().name.tag for m in metrics]))
    assert write_experiment(tmp_path) == tmp_path / "tensorboard"
    assert seen == {"columns": {"optimizer.learning_rate": [0.01, 0.1]},
                    "metrics": ["loss/validation"]}
