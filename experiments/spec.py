"""What a run is: its resolved configuration (``resolve``), the checks that refuse what
cannot run (``check``, and ``values_problem`` before the backend starts), its defining keys
(``defining``: its identity, folder and HParams), its folder and its label; and the
command-line overrides checked against the suite's own config tree before Hydra composes
them (``precheck``), so a misspelt group, option or key gets one line with a "did you mean"
from the suite's names (and exit status 2) instead of Hydra's multi-line error or, for
``+key=…``, a run that silently ignores the key.

Light on purpose: importing it starts no Keras and no TensorFlow (the checks that need a
registry import it when they run), so the report and the command line's first checks stay
fast.

Why one file over 400 lines: every check of a run's configuration, so a bad value has one
place that answers it.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from functools import cache, lru_cache
from pathlib import Path

import yaml

from dlkit.training.identity import run_id
from experiments.runfolder import name_problem, results_dir_problem

CONF = Path(__file__).resolve().parents[1] / "conf"


class RunSpecError(ValueError):
    """The configuration cannot run; raised before any training or result file."""



def groups() -> dict[str, list[str]]:
    """Config group -> its options (the YAML files of ``conf/<group>/``)."""
    return {d.name: sorted(f.stem for f in d.glob("*.yaml"))
            for d in sorted(CONF.iterdir()) if d.is_dir() and d.name != "hydra"}


@lru_cache(maxsize=1)
def run_keys() -> frozenset[str]:
    """The top-level keys of a run's resolved configuration: the config groups and the keys
    of ``conf/config.yaml`` (``source`` marks a preset that is not a training run)."""
    base = yaml.safe_load((CONF / "config.yaml").read_text(encoding="utf-8"))
    plain = {k for k in base if k not in ("defaults", "hydra", "scale")}
    return frozenset(plain | (set(groups()) - {"experiment"}) | {"source"})


def top_keys() -> set[str]:
    """What the command line may name: a run's keys, ``scale`` and a preset's ``sizes``,
    Hydra's own, and experiments.complexity's ``input_shape`` and ``num_classes``."""
    return set(run_keys()) - {"source"} | {"scale", "sizes", "hydra", "input_shape",
                                            "num_classes"}


@cache
def group_keys(group: str) -> frozenset[str]:
    """Every top-level key any option of a config group has (a preset may set a key of one
    option, e.g. ``schedule.step_epochs``, while another option is chosen)."""
    keys = set()
    for file in (CONF / group).glob("*.yaml"):
        keys |= set(yaml.safe_load(file.read_text(encoding="utf-8")) or {})
    return frozenset(keys)


def did_you_mean(word, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def unknown_key(group: str, key: str) -> str | None:
    """The line for ``<group>.<key>`` when no option of the config group has that key."""
    known = group_keys(group)
    if key in known:
        return None
    what = ("is not a trainer setting; the trainer has" if group == "trainer"
            else f"is not a setting of {group}; its options have")
    return f"{group}.{key} {what} {', '.join(sorted(known))}" + did_you_mean(key, known)


# numpy's and Keras's seeding take a 32-bit unsigned int
SEED_MAX = 2**32 - 1


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_problem(cfg: dict) -> str | None:
    """The first value of a composed configuration that cannot run, found without the
    backend or the data (so a mistake is answered before TensorFlow starts): the seed, the
    run's folder (``name``, ``results_dir``) and the types of the dataset's size settings.
    Checks that need the data (a split left empty) come when it is loaded."""
    seed = cfg.get("seed")
    if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
        return f"seed={seed!r} is not accepted: it must be an int from 0 to {SEED_MAX}"
    problem = name_problem(cfg.get("name"))
    if problem:
        return problem
    dataset = cfg.get("dataset") or {}
    subset = dataset.get("subset")
    if subset is not None and (not _is_int(subset) or subset <= 0):
        return (f"dataset.subset={subset!r} is not accepted: it must be a positive int (a "
                "number of examples) or null (all)")
    for key in ("val_fraction", "test_fraction"):
        value = dataset.get(key)
        if value is not None and (not _is_number(value) or not 0 < value < 1):
            return f"dataset.{key}={value!r} is not accepted: it must be a number in (0, 1)"
    return results_dir_problem(cfg.get("results_dir"))


def precheck(argv) -> str | None:
    """The first problem among ``key=value`` overrides as one line, or None."""
    options = groups()
    known = set(options) | top_keys()
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, _, value = arg.partition("=")
        bare = key.lstrip("+~")
        head = bare.split(".")[0].split("/")[0]
        if head == "hydra":
            continue
        if head not in known:
            return (f"{bare} is not a setting of the suite; groups: {', '.join(options)}; "
                    f"top-level keys: {', '.join(sorted(top_keys() - set(options) - {'hydra'}))}"
                    + did_you_mean(head, known))
        parts = bare.split(".")
        if key == bare and len(parts) > 1 and head in options and head != "experiment":
            problem = unknown_key(head, parts[1])  # without '+', Hydra's advice is to add one
            if problem:
                return problem
        if key == bare and bare in ("name", "results_dir") and "${" not in value:
            for choice in value.split(",") if bare == "name" else [value]:
                problem = (name_problem(choice.strip()) if bare == "name"
                           else results_dir_problem(choice))
                if problem:
                    return problem
        if bare in options:
            for choice in value.split(","):
                choice = choice.strip()
                if choice not in options[bare] and choice != "null":
                    return (f"{bare}={choice} is not accepted; options: "
                            f"{', '.join(options[bare])}" + did_you_mean(choice, options[bare]))
    return None


# Keys of a composed configuration that describe a preset, not a run: its claims and its
# sizes table (the chosen size is already resolved into the run's own keys).
NOT_RUN_KEYS = ("claims", "sizes", "scale")


def resolve(cfg: dict) -> dict:
    """Fill in what the configuration leaves to the suite: ``dataset=natural`` becomes the
    loss's natural dataset (digits or diabetes) and ``trainer.lr_scale`` multiplies the
    optimizer's learning rate. The preset-only keys (``NOT_RUN_KEYS``) are dropped, so they
    neither reach the run folder nor change its identity."""
    cfg = {k: v for k, v in cfg.items() if k not in NOT_RUN_KEYS}
    if cfg["dataset"]["name"] == "natural":
        from dlkit import data

        cfg["dataset"] = {"name": data.natural_for(cfg["loss"]["task"])}
    scale = cfg["trainer"].get("lr_scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
        raise RunSpecError(f"trainer.lr_scale={scale!r} is not accepted: it must be a "
                           "positive number")
    if scale != 1.0:
        cfg["optimizer"] = {**cfg["optimizer"],
                            "learning_rate": cfg["optimizer"]["learning_rate"] * scale}
    if _fixed_activation(cfg["model"].get("name")):
        cfg.pop("activation", None)  # the model ignores it: not part of what the run used
    cfg["loss"] = _paired_loss(cfg["loss"], cfg["dataset"]["name"])
    cfg["schedule"] = _own_schedule_keys(cfg["schedule"])
    return cfg


def _own_schedule_keys(schedule: dict) -> dict:
    """A preset may set a key of one schedule for a sweep over several (``step_epochs`` for
    ``step``, while ``cosine`` runs too): keys of other schedule options are dropped, so they
    neither define nor reach a run that ignores them. Keys no schedule has stay, and
    ``check`` refuses them."""
    from dlkit import schedules
    from dlkit.registry import accepted_arguments

    if schedule.get("name") not in schedules.REGISTRY:
        return schedule
    own = accepted_arguments(schedules.REGISTRY.lookup(schedule["name"])) or set()
    others = group_keys("schedule") - own - {"name"}
    return {k: v for k, v in schedule.items() if k not in others}


def _fixed_activation(model: str | None) -> str | None:
    """The activation a model's design fixes (its registry fact), so ``activation=``
    neither reaches nor defines its runs; ``None`` for the other models and unknown names
    (``check`` refuses those)."""
    from dlkit import models

    if model not in models.REGISTRY:
        return None
    return models.REGISTRY.facts(model)["fixed_activation"]


def _paired_loss(loss: dict, dataset: str) -> dict:
    """The loss as the run uses it: on a dataset of its own task unchanged; on the other
    task (MSE on classification) with that task's output activation and label format, so
    ``config.yaml`` and the HParams say softmax and one-hot, not linear and dense."""
    from dlkit import data

    task = data.task_of(dataset) if dataset in data.REGISTRY else None
    also = loss.get("also") or {}
    out = {k: v for k, v in loss.items() if k != "also"}
    if task is not None and task != loss.get("task") and task in also:
        out.update(task=task, output_activation=also[task]["output_activation"],
                   labels=also[task]["labels"])
    elif task is not None and task != loss.get("task") and also:
        out["also"] = also  # kept for check() to name the datasets that fit
    return out


ACCEPTED_BATCH = "a positive int or 'full'"


def _positive_int(value, key):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RunSpecError(f"{key}={value!r} is not accepted: it must be a positive int")
    return value


def check(cfg: dict) -> None:
    """Reject what cannot run, naming the bad value and what is accepted."""
    from dlkit import data
    from experiments import build, devices

    if cfg.get("source", "train") != "train":
        raise RunSpecError(f"experiment={cfg.get('name')} holds claims about optimizer paths, "
                           "not a training run; run them with python -m experiments.claims")
    trainer = cfg["trainer"]
    _known_keys(cfg)
    problem = values_problem(cfg)
    if problem:
        raise RunSpecError(problem)
    for key in BOOL_KEYS:
        if not isinstance(trainer.get(key, False), bool):
            raise RunSpecError(f"trainer.{key}={trainer[key]!r} is not accepted: use true or "
                               "false")
    if trainer.get("jit_compile", "auto") not in ("auto", True, False):
        raise RunSpecError(f"trainer.jit_compile={trainer['jit_compile']!r} is not accepted: "
                           "use auto, true or false")
    if trainer.get("jit_compile") is True and trainer.get("deterministic") and \
            cfg.get("backend", "tensorflow") == "tensorflow":
        raise RunSpecError("trainer.jit_compile=true needs trainer.deterministic=false under "
                           "TensorFlow: Keras turns XLA off while TensorFlow's deterministic "
                           "kernels are on (backend=jax compiles with XLA and stays "
                           "deterministic on a CPU)")
    build.steps_per_execution(trainer, cfg.get("backend", "tensorflow"))
    try:
        devices.check(trainer)
    except ValueError as err:
        raise RunSpecError(str(err)) from None
    _positive_int(trainer["epochs"], "trainer.epochs")
    every = trainer.get("full_loss_every", 0)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise RunSpecError(f"trainer.full_loss_every={every!r} is not accepted: 0 (off) or a "
                           "positive number of steps")
    if every and not trainer.get("log_steps"):
        raise RunSpecError("trainer.full_loss_every needs trainer.log_steps=true: the full "
                           "loss is a column of steps.csv")
    _positive_int(trainer.get("full_loss_examples", 256), "trainer.full_loss_examples")
    rate = cfg["optimizer"].get("learning_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
        raise RunSpecError(f"optimizer.learning_rate={rate!r} is not accepted: the "
                           "learning_rate must be a positive finite number")
    batch = trainer["batch_size"]
    if batch != "full":
        if isinstance(batch, str) and batch.strip().lstrip("-").isdigit():
            batch = int(batch)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0:
            raise RunSpecError(f"trainer.batch_size={batch!r} is not accepted: it must be "
                               f"{ACCEPTED_BATCH}")
    _constructor_arguments(cfg)
    dataset = cfg["dataset"]["name"]
    task = data.task_of(dataset) if dataset in data.REGISTRY else None
    loss = cfg["loss"]
    if task is not None and loss["task"] != task and task not in (loss.get("also") or {}):
        fits = ", ".join(data.datasets_for(loss["task"]))
        raise RunSpecError(
            f"loss={loss['name']} is a {loss['task']} loss but dataset={dataset} is a {task} "
            f"dataset; datasets that fit: {fits}")


BOOL_KEYS = ("resume", "diagnostics", "deterministic", "distribute", "verbose", "log_steps")


def _known_keys(cfg: dict) -> None:
    """Refuse keys the suite does not know, also when added with ``+`` (Hydra's own advice
    for a misspelt key): top-level keys, the trainer's, and those of loss, schedule and
    activation (optimizer, loss, model and dataset keys meet their constructors'
    signatures in ``_constructor_arguments``)."""
    known = run_keys()
    for key in cfg:
        if key not in known:
            raise RunSpecError(f"{key}={cfg[key]!r} is not a setting of the suite; top-level "
                               f"settings: {', '.join(sorted(known - {'source'}))}"
                               + did_you_mean(key, known))
    for group in ("trainer", "schedule", "activation"):
        for key in cfg.get(group) or {}:
            problem = unknown_key(group, key)
            if problem:
                raise RunSpecError(problem)


def _constructor_arguments(cfg: dict) -> None:
    """Every group's arguments against its registry entry's signature, before anything is
    built (so a constructor's own TypeError is never the user's fault)."""
    from dlkit import data, losses, models, optimizers, schedules
    from dlkit.errors import ConfigError
    from experiments.build import arguments

    supplied = {"model": ("input_shape", "num_classes", "output_activation", "activation"),
                "optimizer": ("track_diagnostics", "name"), "dataset": ("seed",),
                "schedule": ("learning_rate", "steps_per_epoch", "epochs")}
    for group, registry in (("optimizer", optimizers.REGISTRY), ("loss", losses.REGISTRY),
                            ("model", models.REGISTRY), ("dataset", data.REGISTRY),
                            ("schedule", schedules.REGISTRY)):
        try:
            registry.check_arguments(cfg[group]["name"], arguments(group, cfg[group]),
                                     skip=supplied.get(group, ()))
        except ConfigError as err:
            raise RunSpecError(str(err)) from None


# Keys that say where or how a run is shown or executed, not what it computes or records
# (``trainer.steps_per_execution`` groups steps into calls and gives the same numbers; the
# tests hold it to that). Turning on ``trainer.diagnostics`` defines a run: a run made
# without diagnostics cannot stand in for one that needs them.
DISPLAY_KEYS = (("results_dir",), ("name",), ("trainer", "resume"), ("trainer", "verbose"),
                ("trainer", "steps_per_execution"), ("hydra",))
# Keys that leave a run as it was at this value (added after runs existed without them): at
# it they stay out of the identity, so runs made before the key keep their folders; set to
# anything else they define the run like every other key.
NEUTRAL_AT = {("trainer", "full_loss_every"): 0, ("trainer", "full_loss_examples"): 256}


def defining(cfg: dict) -> dict:
    """The defining configuration of a resolved run: every key except ``DISPLAY_KEYS``,
    nested as in the config. The one definition behind the run's identity (its folder
    hash), the report's grouping of runs and the HParams a run logs."""

    def strip(node, prefix=()):
        if not isinstance(node, dict):
            return node
        return {k: strip(v, prefix + (k,)) for k, v in sorted(node.items())
                if prefix + (k,) not in DISPLAY_KEYS
                and not (prefix + (k,) in NEUTRAL_AT and NEUTRAL_AT[prefix + (k,)] == v
                         and not isinstance(v, bool))}

    return strip(cfg)


def flat(node: dict, prefix: str = "") -> dict:
    """Dotted keys of scalar values (``optimizer.learning_rate``), lists as text; the
    ``also`` table of a loss (the pairings it did not use) is left out."""
    out = {}
    for key, value in node.items():
        if key == "also" or str(key).startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}."))
        else:
            out[name] = str(value) if isinstance(value, (list, tuple)) else value
    return out


def run_name(cfg: dict) -> str:
    """The readable part of a run folder's name: ``<model>_<loss>_<optimizer>_s<seed>``."""
    parts = [str((cfg.get(group) or {}).get("name", "x"))
             for group in ("model", "loss", "optimizer")]
    return "_".join([*parts, f"s{cfg.get('seed', 0)}"])


def run_folder(cfg: dict) -> Path:
    """``<results_dir>/<name>/<model>_<loss>_<optimizer>_s<seed>_<hash>`` of a resolved
    configuration, the hash over its defining keys (``defining``)."""
    return Path(cfg["results_dir"]) / cfg["name"] / run_id(defining(cfg), run_name(cfg))



def label(overrides, cfg: dict) -> str:
    """A run's readable label from the overrides that made it (a sweep's varying values):
    ``optimizer=adam optimizer.learning_rate=0.003 seed=1``; the preset, output folder and
    display settings left out. Without overrides: ``run_name``."""
    skip = ("experiment", "name", "results_dir", "backend", "hydra", "trainer.verbose",
            "trainer.resume", "scale")
    kept = [o.lstrip("+~") for o in overrides or ()
            if o.lstrip("+~").split("=")[0] not in skip
            and not o.lstrip("+~").startswith("hydra")]
    return short_label(" ".join(kept) or run_name(cfg))


# A label names a TensorBoard folder, which may get `` #<hash>`` appended (a label two runs
# share): kept well under a folder name's ``runfolder.NAME_BYTES``
LABEL_BYTES = 200


def short_label(label: str, limit: int = LABEL_BYTES) -> str:
    """``label`` as it is when it fits in ``limit`` bytes; otherwise its readable start and
    a hash of the whole, so two long labels that share their start stay distinct and the
    same label always gives the same name."""
    raw = label.encode("utf-8")
    if len(raw) <= limit:
        return label
    digest = hashlib.sha256(raw).hexdigest()[:10]
    tail = f" … {digest}"
    head = raw[:limit - len(tail.encode("utf-8"))].decode("utf-8", "ignore").rstrip()
    return head + tail
