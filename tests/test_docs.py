"""The front page and the documentation site: the README stays a landing page, every conf
option is on the configuration page, the generated tables come from their data, every shell
command of the README and the docs is one the programs accept, nothing points outside the
repository, and ``mkdocs build --strict`` passes."""

import argparse
import importlib
import importlib.util
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def _hooks():
    spec = importlib.util.spec_from_file_location("dlkit_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- the front page


def test_readme_is_a_landing_page_of_at_most_250_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the limit is 250"


def test_readme_and_docs_point_nowhere_outside_the_repository():
    for path in [ROOT / "README.md", *PAGES, ROOT / "mkdocs.yml"]:
        found = re.findall(r"\b(?:https?|ftp)://\S+", path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} links outside the repository: {found}"


def test_readme_links_name_files_that_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links, "the README links into docs/"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_readme_has_the_landing_pages_sections_and_the_ci_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ('pip install -e ".[dev]"', "python -m experiments.run\n",
                    "python -m experiments.report results/example --figures",
                    "python -m experiments.claims ce_vs_mse", "tensorboard --logdir",
                    "python -m pytest -n auto", "docs/tutorial.md"):
        assert command in text, command
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert re.search(r"^python -m pytest -n auto\b", ci, re.M), "CI runs the README's command"
    assert "this session" not in text


# --------------------------------------------------------------------------- generated pages


def _conf_files():
    """Every option file of conf/, walked independently of the hook."""
    return sorted(p for p in CONF.rglob("*.yaml") if p.parent != CONF)


def test_every_conf_group_option_and_key_is_on_the_configuration_page():
    page = _hooks().configuration_markdown(CONF)
    assert "<!-- dlkit:configuration -->" in (DOCS / "configuration.md").read_text()
    files = _conf_files()
    assert len(files) > 50
    for path in files:
        group = path.parent.relative_to(CONF).as_posix()
        assert f"## `{group}`" in page, group
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if len(list(path.parent.glob("*.yaml"))) == 1:  # one option: its keys are the rows
            assert f"One option, `{path.stem}`" in page, path
            for key in data:
                if key != "defaults":
                    assert f"| `{key}` |" in page, key
            continue
        assert f"| `{path.stem}` |" in page, f"{group}={path.stem} is not on the page"
        if group not in ("experiment", "hydra/launcher"):
            section = page.split(f"## `{group}`", 1)[1].split("\n## ", 1)[0]
            row = next(line for line in section.splitlines()
                       if line.startswith(f"| `{path.stem}` |"))
            for key in data:
                assert f"`{key}: " in row, f"{group}={path.stem}: key {key} missing"
    for key in yaml.safe_load((CONF / "config.yaml").read_text()):
        if key not in ("defaults", "hydra"):
            assert f"| `{key}` |" in page, key
    for option in ("natural", "alexnet_scaled", "googlenet_scaled"):
        assert f"| `{option}` |" in page


def test_configuration_page_lists_a_new_group_and_option(tmp_path):
    """The page is generated: an option file dropped into a new group shows up with its
    description and keys, so the page cannot miss one."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    (conf / "widget").mkdir()
    (conf / "widget" / "gizmo.yaml").write_text("# a made-up option\nname: gizmo\nsize: 3  # px\n")
    (conf / "widget" / "doohickey.yaml").write_text("name: doohickey\n")
    page = _hooks().configuration_markdown(conf)
    assert "## `widget`" in page and "| `doohickey` |" in page
    assert "| `gizmo` | a made-up option | `name: gizmo`<br>`size: 3` (px) |" in page


def test_claims_table_is_generated_from_claims_json():
    hooks = _hooks()
    path = ROOT / "results/reference/claims.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    table = hooks.claims_markdown(path)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "(`" in line
            and not line.startswith("| claim (`key`)")]
    assert len(rows) == len(data["claims"])
    for claim, row in zip(data["claims"], rows):
        assert f"(`{claim['key']}`)" in row and f"**{claim['verdict']}**" in row
        p = claim["comparison"]["p_holm"]
        assert hooks._num(p) in row
    assert "<!-- dlkit:claims -->" in (DOCS / "claims.md").read_text()


def test_claims_table_follows_an_edited_claims_json(tmp_path):
    data = json.loads((ROOT / "results/reference/claims.json").read_text(encoding="utf-8"))
    data["claims"] = data["claims"][:1]
    data["claims"][0]["verdict"] = "not supported"
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(data))
    table = _hooks().claims_markdown(path)
    assert "**not supported**" in table and "Verdicts: not supported 1." in table


def test_every_benchmark_record_is_complete_and_on_the_performance_page():
    hooks = _hooks()
    records = hooks.load_records(ROOT / "benchmarks/records")
    assert records
    page = hooks.performance_markdown(ROOT / "benchmarks/records", ROOT / "benchmarks")
    for record in records:
        for field in ("benchmark", "command", "date", "source", "machine", "versions",
                      "sections"):
            assert field in record, (record["_file"], field)
        machine = record["machine"]
        assert machine["cpu"] and machine["cores"] >= 1 and machine["label"]
        assert record["sections"] and any(s["rows"] for s in record["sections"])
        assert record["_file"] in page
        assert f"### {record['benchmark']} on {machine['label']}" in page
    transcribed = [r for r in records if r["source"].startswith("transcribed")]
    assert {r["machine"]["label"] for r in transcribed} >= {
        "Intel(R) Xeon(R) Processor (AVX-512, AMX), 2 cores", "AMD EPYC (AVX-512), 2 cores",
        "AMD EPYC (AVX2), 2 cores"}
    assert "<!-- dlkit:performance -->" in (DOCS / "performance.md").read_text()


def test_theory_page_no_longer_calls_the_pooling_claims_untested():
    text = (DOCS / "theory.md").read_text(encoding="utf-8")
    assert "not tested yet" not in text
    preset = yaml.safe_load((CONF / "experiment/pooling.yaml").read_text())
    for key in preset["claims"]:
        assert f"`{key}`" in text


# --------------------------------------------------------------------------- commands


def _commands(path: Path) -> list[str]:
    """The commands of a page's ``bash`` blocks (continuations joined, comments dropped)."""
    text = path.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


ALL_COMMANDS = [(path.name, words) for path in [ROOT / "README.md", *PAGES]
                for words in _commands(path)]


class _Parsed(Exception):
    pass


def _parses(main, argv, monkeypatch) -> None:
    """``main(argv)`` up to its argument parser: a parse error (exit 2) fails, a parsed
    command stops there and trains nothing."""
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        original(self, args, namespace)
        raise _Parsed

    with monkeypatch.context() as patch, pytest.raises(_Parsed):
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
        main(argv)


def _compose_every_job(overrides: list[str]) -> int:
    """Compose the job configurations of a Hydra command line as ``experiments.run`` would
    (each sweep's first and last value, all combinations): an unknown group, option or key
    fails here."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = []
    for override in parsed:
        if override.is_sweep_override():
            values = list(override.sweep_string_iterator())
            key = override.get_key_element()
            choices.append([f"{key}={v}" for v in dict.fromkeys([values[0], values[-1]])])
        else:
            choices.append([override.input_line])
    jobs = list(itertools.product(*choices))
    with initialize_config_dir(str(CONF), version_base="1.3"):
        for job in jobs:
            compose("config", overrides=list(job), return_hydra_config=True)
    return len(jobs)


def _check(words: list[str], monkeypatch, capsys) -> None:
    while words and re.match(r"^[A-Z_]+=", words[0]):  # an environment prefix
        words = words[1:]
    program = words[0]
    if program == "pip":
        extras = re.search(r"\.\[(\w+)\]", " ".join(words))
        pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        assert extras and re.search(rf"^{extras.group(1)} = \[", pyproject, re.M)
        return
    if program in ("tensorboard", "mkdocs", "ruff"):
        assert shutil.which(program) or importlib.util.find_spec(program), program
        return
    assert program == "python" and words[1] == "-m", f"unknown program: {words}"
    module, args = words[2], words[3:]
    if module == "pytest":
        if "-n" in args:
            assert importlib.util.find_spec("xdist"), "pytest -n needs pytest-xdist"
        return
    if module in ("experiments.run", "experiments.complexity"):
        args = [a for a in args if a not in ("-m", "--multirun")]
        assert _compose_every_job(args) >= 1
        return
    if module == "experiments.claims":
        from experiments.claims.__main__ import main

        assert main([*args, "--list"]) == 0  # checks every flag and claim key, trains nothing
        capsys.readouterr()
        return
    assert module.startswith(("experiments.", "benchmarks.")), f"unknown module: {module}"
    _parses(importlib.import_module(module).main, args, monkeypatch)


@pytest.mark.parametrize("page, words", ALL_COMMANDS,
                         ids=[f"{p}:{' '.join(w)[:60]}" for p, w in ALL_COMMANDS])
def test_every_documented_command_is_accepted_by_its_program(page, words, monkeypatch,
                                                             capsys):
    _check(words, monkeypatch, capsys)


def test_the_readme_shows_commands_and_a_wrong_one_is_caught(monkeypatch, capsys):
    """The command check can fail: a misspelled option, an unknown key, a bad flag."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    readme = [words for page, words in ALL_COMMANDS if page == "README.md"]
    assert len(readme) >= 6
    with pytest.raises((HydraException, OmegaConfBaseException)):
        _check(["python", "-m", "experiments.run", "-m", "loss=mse,cross_entrpy"],
               monkeypatch, capsys)
    with pytest.raises((HydraException, OmegaConfBaseException)):
        _check(["python", "-m", "experiments.run", "trainer.epoch=2"], monkeypatch, capsys)
    with pytest.raises(SystemExit):
        _check(["python", "-m", "experiments.report", "results", "--figurez"], monkeypatch,
               capsys)
    with pytest.raises(SystemExit):
        _check(["python", "-m", "experiments.claims", "ce_vs_mes"], monkeypatch, capsys)
    with pytest.raises((AssertionError, ModuleNotFoundError)):
        _check(["python", "-m", "experiments.nothing"], monkeypatch, capsys)


@pytest.mark.slow
def test_the_readmes_main_job_sweep_and_report_run_at_a_tiny_size(tmp_path):
    """The README's training commands through the CLI, one epoch each, into a temporary
    results folder; the report then writes its table and figures."""
    env_python = [sys.executable, "-m"]
    root = tmp_path / "results"
    commands = [words for page, words in ALL_COMMANDS if page == "README.md"
                and words[:3] in (["python", "-m", "experiments.run"],
                                  ["python", "-m", "experiments.report"])]
    assert len(commands) == 3
    for words in commands:
        args = words[3:]
        if words[2] == "experiments.run":
            args = [a for a in args if not a.startswith("trainer.epochs=")]
            args += [f"results_dir={root}", "trainer.epochs=1"]
        else:
            args = [str(root / Path(args[0]).relative_to("results")), *args[1:]]
        proc = subprocess.run([*env_python, words[2], *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert (root / "example" / "results.csv").exists()
    assert list((root / "example").glob("*.png")), "the report's --figures wrote no figure"


# --------------------------------------------------------------------------- the site


def test_mkdocs_build_strict_builds_every_page_with_generated_parts(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for page in PAGES:
        assert (site / f"{page.stem}.html").exists(), page.name
    config = (site / "configuration.html").read_text(encoding="utf-8")
    for option in ("natural", "alexnet_scaled", "googlenet_scaled", "slurm_gpu"):
        assert f"<code>{option}</code>" in config, option
    assert "dlkit:" not in config  # every marker replaced
    claims = (site / "claims.html").read_text(encoding="utf-8")
    assert "<code>pooling_less_overfitting</code>" in claims and "dlkit:" not in claims
    assert (site / "reference" / "architectures_val_accuracy.png").exists()
    performance = (site / "performance.html").read_text(encoding="utf-8")
    assert "AMD EPYC (AVX2), 2 cores" in performance and "dlkit:" not in performance
