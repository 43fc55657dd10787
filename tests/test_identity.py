"""A run folder's files belong to their run: ``result.json``, ``state.json`` and every
checkpoint carry the run's identity (run id and, for a ``dataset.path`` file, a fingerprint
of its content), and skip and resume verify it. A mismatch is one line naming the folder and
what differs (bad input: exit status 2 on the command line), never a silent skip or resume."""

import json
import shutil

import numpy as np
import pytest

from dlkit.training.identity import file_fingerprint, identity_mismatch
from experiments.lifecycle import execute
from experiments.spec import RunSpecError
from tests.test_spec import config

SMALL = ["trainer.epochs=2", "dataset.subset=300", "trainer.verbose=false"]


def _run(tmp_path, *overrides, callbacks=()):
    return execute(config(tmp_path, *SMALL, *overrides), verbose=False, callbacks=callbacks)


def _folder(tmp_path, seed):
    (folder,) = [p.parent for p in tmp_path.rglob("config.yaml") if f"_s{seed}_" in str(p)]
    return folder


def test_a_result_copied_from_another_run_folder_is_refused(tmp_path):
    _run(tmp_path, "seed=0")
    _run(tmp_path, "seed=1")
    a, b = _folder(tmp_path, 0), _folder(tmp_path, 1)
    assert json.loads((a / "result.json").read_text())["identity"] == {"run_id": a.name}
    shutil.copy(a / "result.json", b / "result.json")
    with pytest.raises(RunSpecError) as info:
        _run(tmp_path, "seed=1")
    message = str(info.value)
    assert str(b / "result.json") in message and "\n" not in message
    assert f"its run id is {a.name}, this run's is {b.name}" in message
    assert "trainer.resume=false" in message
    # the way out: train it again
    assert _run(tmp_path, "seed=1", "trainer.resume=false")["run_id"] == b.name


def test_a_checkpoint_from_another_run_is_not_resumed(tmp_path):
    _run(tmp_path, "seed=0")
    _run(tmp_path, "seed=1")
    a, b = _folder(tmp_path, 0), _folder(tmp_path, 1)
    (b / "result.json").unlink()  # b interrupted after its last checkpoint
    state = json.loads((b / "state.json").read_text())
    assert state["identity"] == {"run_id": b.name}
    shutil.copy(a / "checkpoints" / state["checkpoint"], b / "checkpoints" / state["checkpoint"])
    with pytest.raises(RunSpecError) as info:
        _run(tmp_path, "seed=1")
    message = str(info.value)
    assert str(b / "checkpoints" / state["checkpoint"]) in message
    assert f"its run id is {a.name}, this run's is {b.name}" in message
    assert not (b / "result.json").exists()


def test_a_state_from_another_run_is_not_resumed(tmp_path):
    _run(tmp_path, "seed=0")
    _run(tmp_path, "seed=1")
    a, b = _folder(tmp_path, 0), _folder(tmp_path, 1)
    (b / "result.json").unlink()
    shutil.copy(a / "state.json", b / "state.json")
    with pytest.raises(RunSpecError, match=r"state.json is not this run's: its run id is"):
        _run(tmp_path, "seed=1")


def _npz(path, seed):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 255, (60, 8, 8), dtype="uint8"),
             y_train=np.arange(60) % 3, x_test=rng.integers(0, 255, (30, 8, 8), dtype="uint8"),
             y_test=np.arange(30) % 3)


def test_a_dataset_file_changed_between_interrupt_and_resume_is_refused(tmp_path):
    import keras

    data = tmp_path / "data.npz"
    _npz(data, 0)
    args = ["dataset=mnist", f"dataset.path={data}", "trainer.epochs=3"]

    class Fault(keras.callbacks.Callback):
        def on_epoch_begin(self, index, logs=None):
            if index == 1:
                raise RuntimeError("interrupted at epoch 2")

    from experiments.lifecycle import RunFailed

    with pytest.raises(RunFailed):
        _run(tmp_path, *args, callbacks=[Fault()])
    (state,) = tmp_path.rglob("state.json")
    (state.parent / "result.json").unlink()  # as a kill leaves it: no result, a state
    before = file_fingerprint(data)
    assert json.loads(state.read_text())["identity"]["dataset_sha256"] == before
    _npz(data, 1)  # another file at the same path
    with pytest.raises(RunSpecError) as info:
        _run(tmp_path, *args)
    message = str(info.value)
    assert str(state) in message and "dataset.path content is sha256:" in message
    assert before[:19] in message
    assert not (state.parent / "result.json").exists()
    # the unchanged file resumes from epoch 1
    _npz(data, 0)
    assert _run(tmp_path, *args)["resumed_from_epoch"] == 1


def test_a_completed_run_whose_dataset_file_changed_is_not_skipped(tmp_path):
    data = tmp_path / "data.npz"
    _npz(data, 0)
    args = ["dataset=mnist", f"dataset.path={data}"]
    first = _run(tmp_path, *args)
    assert first["identity"]["dataset_sha256"] == file_fingerprint(data)
    assert _run(tmp_path, *args) == first  # unchanged: skipped
    _npz(data, 1)
    with pytest.raises(RunSpecError, match=r"result.json is not this run's: its dataset.path "
                                           r"content is sha256:"):
        _run(tmp_path, *args)


def test_identity_mismatch_names_what_differs():
    mine = {"run_id": "mlp_s0_abc", "dataset_sha256": "sha256:" + "1" * 64}
    assert identity_mismatch(mine, dict(mine)) is None
    assert identity_mismatch(mine, None) == "it records no run identity"
    assert identity_mismatch(mine, {"run_id": "mlp_s0_abc"}).startswith(
        "it records no dataset.path content")
    assert identity_mismatch(mine, {**mine, "run_id": "mlp_s1_def"}) == (
        "its run id is mlp_s1_def, this run's is mlp_s0_abc")


def test_fingerprint_is_the_sha256_of_the_content(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert file_fingerprint(path) == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    path.write_bytes(b"abcd")
    assert file_fingerprint(path) == "sha256:" + hashlib.sha256(b"abcd").hexdigest()
