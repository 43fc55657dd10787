"""The seed's claims, each evaluated from the runs of its preset.

A claim's verdict comes from the numbers only: Welch's t-test across seeds (``stats.compare``)
or, for deterministic trajectories, a stated threshold. ``evaluate_all(runs, histories)``
returns one ``Verdict`` per claim whose preset has results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dlkit.analysis import stats

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


@dataclass
class Verdict:
    claim: str
    preset: str
    data: str
    statistic: str
    verdict: str
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class Claim:
    key: str
    text: str
    preset: str
    evaluate: Callable  # (runs, history) -> (statistic text, verdict, table)


def _col(runs: pd.DataFrame, key: str) -> pd.Series:
    return runs[key].astype(str)


def _per_run(runs, history, fn):
    return [fn(history(path)) for path in runs["path"]]


def _describe(result: dict, a: str, b: str, what: str) -> str:
    return (f"{what}: {a} {result['mean_a']:.4g} (n={result['n_a']}) vs {b} "
            f"{result['mean_b']:.4g} (n={result['n_b']}); Welch t-test p = {result['p']:.3g}")


def _dataset(runs) -> str:
    names = sorted(set(_col(runs, "dataset.name"))) if "dataset.name" in runs else ["?"]
    epochs = sorted(set(runs["trainer.epochs"])) if "trainer.epochs" in runs else ["?"]
    return f"{', '.join(names)}; {epochs[0]} epochs; {runs['seed'].nunique()} seeds"


def mbgd_steadier_than_sgd(runs, history):
    batch = _col(runs, "trainer.batch_size")
    noise = pd.Series(_per_run(runs, history, lambda h: stats.oscillation(h["val_loss"])),
                      index=runs.index)
    sgd = noise[batch == "1"]
    mbgd = noise[batch.isin(["64", "128", "256"])]
    result = stats.compare(mbgd, sgd, expect="less")
    table = pd.DataFrame({"batch_size": batch, "seed": runs["seed"],
                          "val_loss_oscillation": noise})
    return (_describe(result, "MBGD (64-256)", "SGD (1)",
                      "mean upward move of val_loss between epochs"), result["verdict"], table)


def mbgd_faster_than_bgd(runs, history):
    batch = _col(runs, "trainer.batch_size")
    loss = pd.to_numeric(runs["val_loss"], errors="coerce")
    result = stats.compare(loss[batch.isin(["64", "128", "256"])], loss[batch == "full"],
                           expect="less")
    table = pd.DataFrame({"batch_size": batch, "seed": runs["seed"], "val_loss": loss})
    return (_describe(result, "MBGD (64-256)", "BGD (full)",
                      "final val_loss after the same epochs"), result["verdict"], table)


def best_learning_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """Per optimizer: the learning-rate scale with the lowest mean val_loss, and its test
    metrics (mean over seeds)."""
    metrics = [m for m in ("val_loss", "test_loss", "test_accuracy") if m in runs]
    agg = stats.aggregate(runs, ["optimizer.name", "trainer.lr_scale"], metrics)
    best = agg.loc[agg.groupby("optimizer.name")["val_loss_mean"].idxmin()]
    return best.reset_index(drop=True)


def _mean_val_loss(h: pd.DataFrame) -> float:
    """Mean validation loss over a run's epochs: the area under its learning curve per
    epoch, lower for a run that gets there sooner."""
    if "val_loss" not in h or h.empty:
        return float("nan")
    return float(pd.to_numeric(h["val_loss"], errors="coerce").mean())


def adaptive_beats_sgd(runs, history):
    """Speed, not the end point: at each optimizer's best rate (lowest final val_loss), the
    mean val_loss over the epochs of Adam and RMSprop against SGD's."""
    best = best_learning_rates(runs)
    chosen = runs.merge(best[["optimizer.name", "trainer.lr_scale"]],
                        on=["optimizer.name", "trainer.lr_scale"])
    area = pd.Series(_per_run(chosen, history, _mean_val_loss), index=chosen.index)
    name = chosen["optimizer.name"]
    result = stats.compare(area[name.isin(["adam", "rmsprop"])], area[name == "sgd"],
                           expect="less")
    best["mean_val_loss_over_epochs"] = [
        float(area[(name == o) & (chosen["trainer.lr_scale"] == s)].mean())
        for o, s in zip(best["optimizer.name"], best["trainer.lr_scale"])]
    return (_describe(result, "Adam and RMSprop", "SGD", "mean val_loss over the epochs "
                      "(area under the learning curve) at each one's best rate")
            + " (rates chosen on final validation loss; test metrics in the table)",
            result["verdict"], best)


def _faster_to_target(runs, history, key, faster, slower, names, target=0.9):
    """Epochs until val_accuracy >= target (never reached: one past the last epoch) of the
    runs whose ``key`` is ``faster`` against those where it is ``slower``."""
    epochs = pd.Series(_per_run(runs, history, lambda h: stats.epochs_to_target(
        h, "val_accuracy", target)), index=runs.index)
    epochs = epochs.fillna(float(runs["trainer.epochs"].max()) + 1)
    group = _col(runs, key)
    result = stats.compare(epochs[group == faster], epochs[group == slower], "less")
    table = pd.DataFrame({key: group, "seed": runs["seed"],
                          f"epochs_to_val_accuracy_{target}": epochs,
                          "test_accuracy": runs.get("test_accuracy")})
    return (_describe(result, *names, f"epochs to val_accuracy >= {target} (never = epochs "
                      "+ 1)"), result["verdict"], table)


def cross_entropy_faster_than_mse(runs, history):
    return _faster_to_target(runs, history, "loss.name", "cross_entropy", "mse",
                             ("cross entropy", "MSE"))


def _layer_gradient_ratio(h: pd.DataFrame) -> float:
    """log10 of (first hidden layer's kernel gradient norm / last hidden layer's), mean
    over epochs."""
    cols = sorted((c for c in h.columns if c.startswith("grad_norm/dense_")
                   and c.endswith("/kernel")), key=lambda c: int(c.split("_")[2].split("/")[0]))
    if len(cols) < 2:
        return math.nan
    first, last = h[cols[0]].astype(float), h[cols[-1]].astype(float)
    return float(np.mean(np.log10(np.maximum(first, 1e-30) / np.maximum(last, 1e-30))))


def sigmoid_gradients_vanish(runs, history):
    ratio = pd.Series(_per_run(runs, history, _layer_gradient_ratio), index=runs.index)
    depth = runs["model.depth"].astype(int)
    deepest = depth.max()
    act = _col(runs, "activation.name")
    at = depth == deepest
    result = stats.compare(ratio[at & (act == "sigmoid")], ratio[at & (act == "relu")], "less")
    table = pd.DataFrame({"activation": act, "depth": depth, "seed": runs["seed"],
                          "log10_first_over_last_grad_norm": ratio})
    table = table.groupby(["activation", "depth"], as_index=False)[
        "log10_first_over_last_grad_norm"].mean()
    return (_describe(result, "sigmoid", "ReLU", f"log10(‖∇W_1‖ / ‖∇W_{deepest}‖) at depth "
                      f"{deepest}"), result["verdict"], table)


def identical_init_cannot_learn(runs, history):
    acc = pd.to_numeric(runs["test_accuracy"], errors="coerce")
    init = _col(runs, "model.kernel_initializer")
    result = stats.compare(acc[init == "constant"], acc[init != "constant"], "less")
    table = pd.DataFrame({"kernel_initializer": init, "seed": runs["seed"],
                          "test_accuracy": acc})
    return (_describe(result, "constant", "random", "test accuracy"), result["verdict"], table)


def batchnorm_speeds_convergence(runs, history):
    return _faster_to_target(runs, history, "model.batchnorm", "True", "False",
                             ("with BN", "without BN"))


def lstm_remembers(runs, history):
    length = runs["dataset.length"].astype(int)
    longest = length.max()
    model = _col(runs, "model.name")
    mse = pd.to_numeric(runs["test_mse"], errors="coerce")
    at = length == longest
    result = stats.compare(mse[at & (model == "lstm")], mse[at & (model == "rnn")], "less")
    table = stats.aggregate(pd.DataFrame({"model": model, "length": length, "test_mse": mse}),
                            ["model", "length"], ["test_mse"])
    text = _describe(result, "LSTM", "RNN", f"test MSE at length {longest} (predicting the "
                     "mean scores 0.167)")
    return text, result["verdict"], table


def _ravine_last(trajectories: pd.DataFrame) -> pd.DataFrame:
    ravine = trajectories[trajectories["function"] == "ravine"]
    return ravine[ravine["step"] == ravine["step"].max()].set_index("optimizer")


def _threshold_verdict(ratio: float) -> str:
    """Deterministic paths have no seeds: below 0.5 supports, above 1 contradicts."""
    return SUPPORTED if ratio < 0.5 else (NOT_SUPPORTED if ratio > 1 else INCONCLUSIVE)


def momentum_in_ravine(trajectories: pd.DataFrame):
    """Loss after the last step on the ravine, momentum against plain SGD at the same rate."""
    last = _ravine_last(trajectories)
    f_sgd, f_momentum = float(last.loc["sgd", "f"]), float(last.loc["momentum", "f"])
    ratio = f_momentum / f_sgd if f_sgd > 0 else math.inf
    text = (f"ravine loss after {int(last['step'].iloc[0])} steps at the same learning rate: "
            f"momentum {f_momentum:.3g} vs SGD {f_sgd:.3g} (ratio {ratio:.3g}; supported "
            "below 0.5, not supported above 1)")
    return text, _threshold_verdict(ratio), last.reset_index()[["optimizer", "f", "x", "y"]]


def momentum_damps_oscillation(trajectories: pd.DataFrame):
    """Mean |y| (the distance across the ravine's floor) over the path, momentum against
    plain SGD at the same rate."""
    ravine = trajectories[(trajectories["function"] == "ravine") & (trajectories["step"] > 0)]
    across = ravine.groupby("optimizer")["y"].apply(lambda y: float(np.mean(np.abs(y))))
    ratio = across["momentum"] / across["sgd"] if across["sgd"] > 0 else math.inf
    text = (f"mean |y| across the ravine over the path: momentum {across['momentum']:.3g} vs "
            f"SGD {across['sgd']:.3g} (ratio {ratio:.3g}; supported below 0.5, not supported "
            "above 1)")
    table = across.rename("mean_abs_y").reset_index()
    return text, _threshold_verdict(ratio), table


CLAIMS = [
    Claim("mbgd_steadier", "Mini-batch gradient descent is steadier than SGD (seed §5.1).",
          "gd_regimes", mbgd_steadier_than_sgd),
    Claim("mbgd_faster", "Mini-batch gradient descent avoids BGD's slowness: it gets further "
          "in the same number of epochs (seed §5.1).", "gd_regimes", mbgd_faster_than_bgd),
    Claim("adaptive", "RMSprop and Adam adapt the step per parameter and converge faster than "
          "plain SGD (seed §5.2-5.3).", "optimizers", adaptive_beats_sgd),
    Claim("ce_vs_mse", "Cross entropy converges faster than MSE on classification "
          "(seed §5.4.4).", "mse_vs_ce", cross_entropy_faster_than_mse),
    Claim("vanishing", "Sigmoid derivatives (at most 0.25) multiplied through depth make "
          "gradients vanish (seed §5.4.4).", "depth_vanishing", sigmoid_gradients_vanish),
    Claim("symmetry", "Identical initial weights leave the network unable to learn "
          "(seed §6.6).", "init_symmetry", identical_init_cannot_learn),
    Claim("batchnorm", "Batch normalization speeds convergence (seed §6, Ioffe & Szegedy "
          "2015).", "batchnorm", batchnorm_speeds_convergence),
    Claim("lstm", "An LSTM remembers across long sequences where a plain RNN forgets "
          "(seed §7).", "rnn_vs_lstm", lstm_remembers),
]


def evaluate_all(runs: pd.DataFrame, history: Callable, trajectories=None) -> list[Verdict]:
    """One verdict per claim whose preset has completed runs in ``runs`` (the ``name``
    column holds the preset), plus the momentum claim when ``trajectories`` is given."""
    out = []
    for claim in CLAIMS:
        subset = runs[(runs["name"] == claim.preset) & (runs["status"] == "completed")]
        if subset.empty:
            continue
        text, verdict, table = claim.evaluate(subset, history)
        out.append(Verdict(claim.text, claim.preset, _dataset(subset), text, verdict, table))
    if trajectories is not None and not trajectories.empty:
        data = "two-variable ravine f = (x² + 50 y²)/2, one deterministic path each"
        for claim, evaluate in (
                ("Momentum speeds progress along a ravine (seed §5.1).", momentum_in_ravine),
                ("Momentum damps the oscillation across a ravine (seed §5.1).",
                 momentum_damps_oscillation)):
            text, verdict, table = evaluate(trajectories)
            out.append(Verdict(claim, "experiments.trajectories", data, text, verdict, table))
    return out


def to_markdown(verdicts: list[Verdict]) -> str:
    lines = ["# The seed's claims, tested", "",
             "Each verdict is computed from the runs (Welch's t-test across seeds, p < 0.05); "
             "none is written by hand.", "",
             "| claim | preset | verdict |", "| --- | --- | --- |"]
    for v in verdicts:
        lines.append(f"| {v.claim} | `{v.preset}` | **{v.verdict}** |")
    for v in verdicts:
        lines += ["", f"## {v.claim}", "", f"- preset: `{v.preset}`", f"- data: {v.data}",
                  f"- statistic: {v.statistic}", f"- verdict: **{v.verdict}**", ""]
        if not v.table.empty:
            lines.append(v.table.to_markdown(index=False, floatfmt=".4g"))
    return "\n".join(lines) + "\n"
