"""Bad input, in-process: every case is refused before any training with one line naming the
bad value and what is accepted, and leaves no result.json (the exit codes are checked in
subprocesses in test_cli.py)."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from experiments.claims import CONF
from experiments.pipeline import RunSpecError, execute


def config(tmp_path, *overrides):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"results_dir={tmp_path}", *overrides])
    return OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("overrides, message", [
    (["trainer.epochs=0"], "trainer.epochs=0 is not accepted: it must be a positive int"),
    (["trainer.batch_size=-3"], "trainer.batch_size=-3 is not accepted"),
    (["trainer.batch_size=abc"], "trainer.batch_size='abc' is not accepted"),
    (["loss=mae"], "datasets that fit: diabetes, adding"),
    (["model=lenet5"], "dataset.image_size=32"),
    (["optimizer.learning_rate=-1"], "learning_rate must be a positive"),
    (["dataset=mnist", "dataset.path=/nonexistent/mnist.npz"], "does not exist"),
    (["+trainer.foo=1"], "trainer.foo is not a trainer setting"),
    (["+trainer.epoch=5"], "did you mean epochs?"),
    (["+optimzer=adam"], "did you mean optimizer?"),
    (["+optimizer.foo=1"], "Argument(s) not recognized: {'foo': 1}"),
    (["+model.foo=1"], "unexpected keyword argument 'foo'"),
    (["+loss.labl=x"], "loss.labl is not a setting of loss; its options have"),
    (["+schedule.foo=1"], "schedule.foo is not a setting of schedule"),
    (["trainer.resume=maybe"], "trainer.resume='maybe' is not accepted: use true or false"),
    (["trainer.deterministic=maybe"], "trainer.deterministic='maybe'"),
    (["trainer.jit_compile=maybe"], "use auto, true or false"),
    (["trainer.jit_compile=true"], "needs trainer.deterministic=false under TensorFlow"),
    (["trainer.device=tpu"], "trainer.device='tpu' is not accepted"),
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
    from dlkit.training.identity import run_id
    from experiments.pipeline import resolve

    base = resolve(config(tmp_path, "experiment=gd_regimes"))
    edited = resolve(config(tmp_path, "experiment=gd_regimes", "sizes.full.epochs=999"))
    assert run_id(base) == run_id(edited)
    assert "claims" not in base and "sizes" not in base
    changed = resolve(config(tmp_path, "experiment=gd_regimes", "trainer.epochs=3"))
    assert run_id(changed) != run_id(base)
