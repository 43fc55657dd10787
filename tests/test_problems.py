"""A claim declared once with ``problems:`` expands into one claim per problem."""

import pytest

from experiments.claims import problems

NODE = {"text": "CE beats MSE", "statistic": "epochs_to_target",
        "args": {"column": "val_accuracy", "target": 0.9}, "margin": 1.0,
        "margin_reason": "one epoch", "seeds": 10, "problem": "digits MLP",
        "a": {"label": "CE", "overrides": ["loss=cross_entropy"]},
        "b": {"label": "MSE", "overrides": ["loss=mse"]},
        "problems": {"mnist1d CNN": {"overrides": ["dataset=mnist1d", "model=cnn1d"],
                                     "args": {"target": 0.6}, "margin_relative": 0.1,
                                     "margin_reason": "10% of MSE's time", "seeds": 8}}}


def test_each_problem_is_a_claim_of_its_own_with_the_problems_overrides_on_both_arms():
    (k0, p0, own), (k1, p1, other) = problems.expand("ce_vs_mse", NODE, "x")
    assert (k0, p0, k1, p1) == ("ce_vs_mse", "digits MLP", "ce_vs_mse@mnist1d CNN",
                                "mnist1d CNN")
    assert "problems" not in own and "problem" not in own and own["args"]["target"] == 0.9
    assert own["a"]["overrides"] == ["loss=cross_entropy"]  # the declared node is untouched
    assert other["a"]["overrides"] == ["loss=cross_entropy", "dataset=mnist1d", "model=cnn1d"]
    assert other["b"]["overrides"] == ["loss=mse", "dataset=mnist1d", "model=cnn1d"]
    assert other["args"] == {"column": "val_accuracy", "target": 0.6}  # merged key by key
    assert other["seeds"] == 8 and other["margin_relative"] == 0.1 and "margin" not in other
    assert NODE["a"]["overrides"] == ["loss=cross_entropy"]
    assert problems.base_key(k1) == "ce_vs_mse" and problems.problem_of(k1) == "mnist1d CNN"
    assert problems.problem_of(k0, "own") == "own"


def test_a_claim_without_problems_is_itself():
    node = {k: v for k, v in NODE.items() if k not in ("problems", "problem")}
    assert problems.expand("k", node, "x") == [("k", "the preset's problem", node)]


@pytest.mark.parametrize("spec, message", [
    ({"mnist1d": {"args": {}}}, "needs overrides"),
    ({"mnist1d": {"overrides": []}}, "needs overrides"),
    ({"mnist1d": {"overrides": ["dataset=mnist1d"], "statistic": "x"}}, "unknown key"),
    ({"a@b": {"overrides": ["dataset=mnist1d"]}}, "no @"),
    (["dataset=mnist1d"], "maps a problem's name"),
])
def test_malformed_problems_are_one_line_naming_the_place(spec, message):
    with pytest.raises(problems.ProblemSpecError, match=message) as err:
        problems.expand("k", {**NODE, "problems": spec}, "conf/experiment/p.yaml claims.k")
    assert "conf/experiment/p.yaml claims.k" in str(err.value) and "\n" not in str(err.value)


def test_holds_on_counts_supported_problems():
    assert problems.holds_on({"a": "supported", "b": "not supported", "c": "supported"}) == \
        (2, 3)


def test_the_report_groups_a_claims_problems_and_counts_where_it_holds():
    from types import SimpleNamespace

    from experiments.claims.report import anchor, problem_summary

    def result(key, problem, verdict):
        return SimpleNamespace(claim=SimpleNamespace(key=key, problem=problem, text="CE"),
                               verdict=verdict)

    results = [result("ce", "digits", "supported"), result("other", "x", "supported"),
               result("ce@MNIST-1D MLP", "MNIST-1D MLP", "equivalent")]
    (item,) = problem_summary(results)  # a claim on one problem is not listed
    assert item["base"] == "ce" and (item["holds_on"], item["problems"]) == (1, 2)
    assert item["verdicts"] == {"digits": "supported", "MNIST-1D MLP": "equivalent"}
    assert anchor("ce@MNIST-1D MLP") == "ce-MNIST-1D-MLP"
