"""What ``python -m experiments.claims`` shows while it works: one line per stage change (or
tqdm bars on a terminal) with runs done and planned and an ETA, and the chance-level
warnings held back while tuning and in mechanism controls."""

from __future__ import annotations

import sys
import time


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class Progress:
    """Runs done per claim and stage (tuning, final, control) and overall, with an ETA.

    On a terminal: two tqdm bars on stderr, all claims and this claim. Elsewhere (a log, a
    worker process, ``DLKIT_PROGRESS=lines``): no bars, one line per stage change on
    stderr. The totals are the runs the protocol plans (``engine.stage_runs``); a tuning
    grid that grows at an edge adds to them, and a stage's total becomes its count once
    the next stage begins. The ETA assumes the remaining runs cost what the done ones did
    on average (runs found already finished count as done)."""

    def __init__(self, claims, arm=None, stream=None):
        import os

        from tqdm import tqdm

        from experiments.claims.engine import stage_runs

        self.stream = stream or sys.stderr
        self.lines = os.environ.get("DLKIT_PROGRESS") == "lines" or not (
            hasattr(self.stream, "isatty") and self.stream.isatty())
        self.planned = {c.key: stage_runs(c, arm) for c in claims}
        self.arm = f" (arm {arm.upper()})" if arm else ""
        self.n_claims, self.index = len(claims), 0
        self.total = sum(sum(p.values()) for p in self.planned.values())
        self.done, self.t0 = 0, time.perf_counter()
        self.claim, self.stage, self.counts, self.seen = None, None, {}, set()
        self.held = 0  # chance-level warnings held back while tuning (or a mechanism control)
        self._tqdm = tqdm
        self.overall = tqdm(total=self.total, desc="claims", unit="run", position=0,
                            file=self.stream, disable=self.lines, dynamic_ncols=True)
        self.bar = None

    def eta(self) -> str:
        if not self.done:
            return "unknown"
        elapsed = time.perf_counter() - self.t0
        return "~" + _duration(elapsed / self.done * max(self.total - self.done, 0))

    def start_claim(self, claim) -> None:
        self.index += 1
        self.claim, self.stage, self.seen = claim, None, set()
        self.counts = dict.fromkeys(self.planned[claim.key], 0)
        self.bar = self._tqdm(total=sum(self.planned[claim.key].values()), unit="run",
                              desc=claim.key, position=1, leave=False, file=self.stream,
                              disable=self.lines, dynamic_ncols=True)

    def _retotal(self, stage: str, count: int) -> None:
        """The planned runs of ``stage`` become ``count`` (a grown grid, a finished stage)."""
        planned = self.planned[self.claim.key]
        change, planned[stage] = count - planned[stage], count
        self.total += change
        self.overall.total = self.total
        if self.bar is not None:
            self.bar.total = sum(planned.values())
        self.overall.refresh()

    def set_stage(self, stage: str) -> None:
        if stage == self.stage:
            return
        if self.stage is not None:
            self._retotal(self.stage, self.counts[self.stage])
            self._release()
        self.stage = stage
        planned = self.planned[self.claim.key][stage]
        if self.bar is not None:
            self.bar.set_description(f"{self.claim.key}: {stage}")
        if self.lines:
            print(f"[claims] {self.index}/{self.n_claims} {self.claim.key}{self.arm}: {stage}, "
                  f"{self.counts[stage]}/{planned} runs; all claims {self.done}/{self.total} "
                  f"runs, {_duration(time.perf_counter() - self.t0)} elapsed, ETA "
                  f"{self.eta()}", file=self.stream, flush=True)

    def run_done(self, key) -> None:
        """One run of the current stage trained or found (each counted once per claim)."""
        if key in self.seen or self.stage is None:
            return
        self.seen.add(key)
        self.counts[self.stage] += 1
        if self.counts[self.stage] > self.planned[self.claim.key][self.stage]:
            self._retotal(self.stage, self.counts[self.stage])
        self.done += 1
        self.overall.update(1)
        if self.bar is not None:
            self.bar.update(1)

    def _release(self) -> None:
        if self.held:
            why = ("the mechanism control removes what the runs learn from"
                   if self.stage == "mechanism" else
                   "expected at the grid's edges: tuning chose among the other rates")
            stage = "mechanism-control" if self.stage == "mechanism" else "tuning"
            print(f"note: {self.claim.key}: {self.held} {stage} run(s) ended at chance level "
                  f"({why})", file=self.stream, flush=True)
            self.held = 0

    def end_claim(self) -> None:
        if self.stage is not None:
            self._retotal(self.stage, self.counts[self.stage])
        for stage in self.counts:  # stages this claim never reached (no tuning, a ravine)
            if stage != self.stage and not self.counts[stage]:
                self._retotal(stage, 0)
        self._release()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.lines:
            print(f"[claims] {self.index}/{self.n_claims} {self.claim.key}{self.arm}: done, "
                  f"{sum(self.counts.values())} runs; all claims {self.done}/{self.total} "
                  f"runs, ETA {self.eta()}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.overall.close()


class _HoldChanceWarnings:
    """A stand-in for stderr while tuning: lines ``warning: ... at chance level ...`` are
    counted into ``progress.held`` instead of shown (a tuning grid tries rates at both
    edges, where a run that learns nothing is expected, and the warning's advice cannot
    apply to it); every other line goes through."""

    def __init__(self, stream, progress):
        self.stream, self.progress, self.buffer = stream, progress, ""

    def write(self, text: str) -> int:
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.startswith("warning: ") and "at chance level" in line:
                self.progress.held += 1
            else:
                self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        if self.buffer:
            self.stream.write(self.buffer)
            self.buffer = ""
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class Tracked:
    """``Runs`` with every run the protocol asks for counted in ``progress`` (each run
    once per claim, trained or found), the stage told by the engine (``stage``)."""

    def __init__(self, runs, progress: Progress):
        self._runs, self._progress = runs, progress

    def __getattr__(self, name):
        return getattr(self._runs, name)

    def stage(self, name: str) -> None:
        self._progress.set_stage(name)

    def _quiet(self):
        import contextlib

        if self._progress.stage not in ("tuning", "mechanism"):
            return contextlib.nullcontext()
        return contextlib.redirect_stderr(_HoldChanceWarnings(sys.stderr, self._progress))

    def prefetch(self, preset, override_lists) -> None:
        if not hasattr(self._runs, "prefetch"):
            return
        with self._quiet():
            self._runs.prefetch(preset, override_lists)
            sys.stderr.flush()

    def get(self, preset, overrides):
        with self._quiet():
            run = self._runs.get(preset, overrides)
            sys.stderr.flush()
        self._progress.run_done((preset, tuple(overrides)))
        return run
