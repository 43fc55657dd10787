"""Bad input, in-process: every case is refused before any training with one line naming the
bad value and what is accepted, and leaves no result.json (the exit codes are checked in
subprocesses in test_cli.py)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from experiments.claims import CONF
from experiments.lifecycle import execute
from experiments.spec import RunSpecError


def config(tmp_path, *overrides):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"results_dir={tmp_path}", *overrides])
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("overrides, message", [
    (["trainer.epochs=0"], "trainer.epochs=0 is not accepted: it must be a positive int"),
    (["trainer.batch_size=-3"], "trainer.batch_size=-3 is not accepted"),
    (["trainer.batch_size=abc"], "trainer.batch_size='abc' is not accepted"),
    (["loss=mae"], "datasets that fit: adding, diabetes"),
    (["model=lenet5"], "dataset.image_size=32"),
    (["optimizer.learning_rate=-1"], "learning_rate must be a positive"),
    (["dataset=mnist", "dataset.path=/nonexistent/mnist.npz"], "does not exist"),
    (["+trainer.foo=1"], "trainer.foo is not a trainer setting"),
    (["+trainer.epoch=5"], "did you mean epochs?"),
    (["+optimzer=adam"], "did you mean optimizer?"),
    (["+optimizer.foo=1"], "optimizer.foo is not an argument of optimizer 'adam'; it takes "
                           "beta_1, beta_2, bias_correction, clipnorm"),
    (["+model.foo=1"], "model.foo is not an argument of model 'mlp'; it takes batchnorm"),
    (["+loss.labl=x"], "loss.labl is not an argument of loss 'cross_entropy'; it takes dtype"),
    (["+dataset.corrupt=0.1"], "dataset.corrupt is not an argument of dataset 'digits'"),
    (["model.kernel_initializer=nope"], "model.kernel_initializer='nope' is not accepted"),
    (["+schedule.foo=1"], "schedule.foo is not a setting of schedule"),
    (["trainer.resume=maybe"], "trainer.resume='maybe' is not accepted: use true or false"),
    (["trainer.deterministic=maybe"], "trainer.deterministic='maybe'"),
    (["trainer.jit_compile=maybe"], "use auto, true or false"),
    (["trainer.jit_compile=true"], "needs trainer.deterministic=false under TensorFlow"),
    (["trainer.device=tpu"], "trainer.device='tpu' is not accepted"),
    (["trainer.steps_per_execution=0"], "trainer.steps_per_execution=0 is not accepted: use "
                                        "auto or a positive int"),
    (["trainer.steps_per_execution=many"], "trainer.steps_per_execution='many' is not "
                                           "accepted"),
    (["trainer.steps_per_execution=true"], "trainer.steps_per_execution=True is not accepted"),
    (["trainer.steps_per_execution=8", "trainer.log_steps=true"],
     "trainer.steps_per_execution=8 with trainer.log_steps=true is not accepted"),
    (["trainer.steps_per_execution=8", "backend=torch"],
     "trainer.steps_per_execution=8 with backend=torch is not accepted"),
    (["name=../../etc"], "plain folder name inside results_dir"),
    (["name="], "plain folder name"),
    (["seed=-1"], "seed=-1 is not accepted"),
    (["experiment=ravine"], "python -m experiments.claims"),
])
def test_bad_input_is_refused_before_training(tmp_path, overrides, message):
    cfg = config(tmp_path, *overrides)
    with pytest.raises(RunSpecError, match=None) as info:
        execute(cfg, verbose=False)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert not list(tmp_path.rglob("result.json"))
    assert not list(tmp_path.rglob("history.csv"))


def test_preset_only_keys_do_not_define_a_run(tmp_path):
    """Editing a preset's full size or its claims leaves its small runs' identity alone."""
    from experiments.spec import resolve
    from experiments.spec import run_folder as run_id

    base = resolve(config(tmp_path, "experiment=gd_regimes"))
    edited = resolve(config(tmp_path, "experiment=gd_regimes", "sizes.full.epochs=999"))
    assert run_id(base) == run_id(edited)
    assert "claims" not in base and "sizes" not in base
    grouped = resolve(config(tmp_path, "experiment=gd_regimes", "trainer.steps_per_execution=1"))
    assert run_id(grouped) == run_id(base)  # the same numbers, the same run
    changed = resolve(config(tmp_path, "experiment=gd_regimes", "trainer.epochs=3"))
    assert run_id(changed) != run_id(base)


def test_a_bug_while_building_is_a_failed_run_not_bad_input(tmp_path, monkeypatch):
    """Only the library's ConfigError is the user's mistake: a ValueError from anywhere
    else while building (here a stand-in for a programming error) is a failed run with a
    traceback.txt, not 'bad input'."""
    from experiments import build, lifecycle

    def broken(cfg, dataset):
        raise ValueError("a bug, not a setting")

    monkeypatch.setattr(build, "compiled_model", broken)
    with pytest.raises(lifecycle.RunFailed, match="a bug, not a setting"):
        execute(config(tmp_path, "trainer.epochs=1"), verbose=False)
    (folder,) = [p.parent for p in tmp_path.rglob("result.json")]
    assert "ValueError: a bug, not a setting" in (folder / "traceback.txt").read_text()


def test_keys_of_another_schedule_do_not_define_a_run(tmp_path):
    from experiments.spec import resolve, run_folder

    plain = resolve(config(tmp_path, "schedule=cosine"))
    with_step = resolve(config(tmp_path, "schedule=cosine", "+schedule.step_epochs=5"))
    assert "step_epochs" not in with_step["schedule"]
    assert run_folder(plain) == run_folder(with_step)
    step = resolve(config(tmp_path, "schedule=step", "schedule.step_epochs=5"))
    assert step["schedule"]["step_epochs"] == 5
    assert run_folder(step) != run_folder(resolve(config(tmp_path, "schedule=step")))


def test_reading_results_starts_no_keras_backend():
    """The report's table and dlkit.analysis need pandas, not Keras: importing them starts
    no backend (TensorFlow's start alone takes seconds and most of a GB)."""
    import subprocess
    import sys

    code = ("import sys, dlkit, dlkit.analysis.stats, experiments.report; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_load_model_registers_dlkit_classes(tmp_path):
    """dlkit.load_model reads a .keras file with dlkit layers and optimizer in a process
    where nothing else imported dlkit's modules."""
    import subprocess
    import sys

    from dlkit import models, optimizers

    model = models.get("lenet5", (32, 32, 1), 10, output_activation="softmax")
    model.compile(optimizer=optimizers.get("adam"), loss="mse")
    model.save(tmp_path / "m.keras")
    path = str(tmp_path / "m.keras")
    code = (f"import dlkit; m = dlkit.load_model({path!r}); "
            "print(type(m.optimizer).__module__, m.count_params())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-2:] == ["dlkit.optimizers", str(model.count_params())]


def test_a_long_label_is_shortened_readably_uniquely_and_always_the_same():
    from experiments.spec import LABEL_BYTES, label

    many = [f"+model.option_{i}=value_{i}" for i in range(40)]
    long = label(many, {})
    assert len(" ".join(o.lstrip("+") for o in many).encode()) > 255
    assert len(long.encode()) <= LABEL_BYTES
    assert long.startswith("model.option_0=value_0 model.option_1=value_1")
    assert label(many, {}) == long                                  # deterministic
    assert label([*many[:-1], "+model.option_39=other"], {}) != long  # unique
    assert label(["seed=1"], {}) == "seed=1"                        # short ones unchanged
    assert len(label(["+x=" + "é" * 300], {}).encode()) <= LABEL_BYTES  # bytes, not chars


def test_a_run_with_many_overrides_logs_to_tensorboard(tmp_path):
    """Its TensorBoard folder is named by the shortened label: within a folder name's 255
    bytes (a label of every override made a name the file system refuses)."""
    overrides = [f"optimizer.learning_rate={0.001 + 1e-12}", "trainer.epochs=1",
                 *[f"trainer.{k}={v}" for k, v in [("batch_size", 64), ("diagnostics", False),
                                                     ("deterministic", True)]],
                 "dataset.subset=200", "activation=tanh", "model.width=32"] * 6
    cfg = config(tmp_path, "trainer.epochs=1", "dataset.subset=200", "trainer.verbose=false")
    result = execute(cfg, verbose=False, overrides=overrides)
    logdir = Path(result["tensorboard"])
    assert len(logdir.name.encode()) <= 255 and logdir.is_dir()
    assert logdir.name.startswith("optimizer.learning_rate=")
    assert result["label"] == logdir.name


@pytest.mark.parametrize("argv, message", [
    (["trainer.epocs=3"], "trainer.epocs is not a trainer setting"),
    (["optimizer.learning_rat=0.1"], "did you mean learning_rate?"),
    (["name=../../x"], "name='../../x' is not accepted"),
    (["-m", "name=ok,../x"], "name='../x' is not accepted"),
    (["results_dir=/proc/x"], "results_dir='/proc/x' is not accepted"),
])
def test_precheck_refuses_before_hydra_composes(argv, message):
    from experiments.spec import precheck

    assert message in precheck(argv)


def test_precheck_passes_good_overrides(tmp_path):
    from experiments.spec import precheck

    assert precheck(["trainer.epochs=3", "+trainer.epocs=3", "optimizer.learning_rate=0.1",
                     f"results_dir={tmp_path}/new/deeper", "name=my_sweep",
                     "hydra.run.dir=x"]) is None
    assert not (tmp_path / "new").exists()  # checked without being made
