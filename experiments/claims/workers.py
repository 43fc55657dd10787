"""``python -m experiments.claims --workers N``: the claims (or a big claim's two arms) as
units of work, each in a subprocess of its own through ``concurrent.futures``; any unit
that fails or is killed fails the command, named in a closing summary."""

from __future__ import annotations

import sys

from experiments.claims.plan import _run_overrides, plan


def _worker_args(args) -> list[str]:
    """The options every worker process gets, rebuilt from the parsed ``args`` (never by
    editing the parent's argv): the results root, the backend, packing, the overrides and
    the smaller sizes; each worker then trains its unit and writes no report."""
    out = ["--results", args.results, "--backend", args.backend]
    out += ["--pack"] if args.pack else []
    out += ["--replicate"] if getattr(args, "replicate", False) else []
    for override in args.override:
        out += ["--override", override]
    out += ["--seeds", str(args.seeds)] if args.seeds is not None else []
    out += ["--points", str(args.points)] if args.points is not None else []
    return [*out, "--no-report"]


_LIVE: set = set()  # the worker processes running now (stopped on Ctrl-C)


def _run_worker(command: list[str]) -> int:
    """One worker process to its end; its exit status (negative: killed by that signal).
    Workers share the terminal, so each shows its progress as lines, not bars."""
    import os
    import subprocess

    with subprocess.Popen(command, env={**os.environ, "DLKIT_PROGRESS": "lines"}) as proc:
        _LIVE.add(proc)
        try:
            return proc.wait()
        finally:
            _LIVE.discard(proc)


def _how(code: int) -> str:
    """A worker's exit status in words: ``exit status 2``, ``killed by SIGKILL``."""
    import signal

    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _unit_name(keys, arm) -> str:
    return ", ".join(keys) + (f" (arm {arm.upper()})" if arm else "")


def _in_workers(claims, args) -> int | None:
    """Run the claims in ``--workers`` processes at a time, one process per unit of
    ``plan`` (a freed worker takes the next unit, largest first), then the timed claims in
    one process alone, then write one report. Runs shared by two claims are trained once: a
    second process would wait on the run's lock, then find it finished. Any unit that fails
    (non-zero exit or killed by a signal) is named in a closing summary and its exit status
    returned (no report); None when every unit finished: the caller writes the report."""
    import os
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from experiments.tf_startup import start_tensorflow

    start_tensorflow()  # the plan builds each arm's network: start TensorFlow quietly
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    units, alone = plan(claims, args.workers, _run_overrides(args))
    passthrough = _worker_args(args)

    def command(keys, threads, arm=None):
        return [sys.executable, "-m", "experiments.claims", *keys, *passthrough,
                *(["--threads", str(threads)] if threads else []),
                *(["--arm", arm] if arm else [])]

    outcomes = []  # (unit name, exit status)
    pool = ThreadPoolExecutor(max_workers=args.workers)
    try:  # the pool's threads only wait on their processes: FIFO keeps largest first
        futures = {pool.submit(_run_worker, command(keys, threads, arm)): _unit_name(keys, arm)
                   for keys, arm in units}
        for future in as_completed(futures):
            outcomes.append((futures[future], future.result()))
            how = "done" if outcomes[-1][1] == 0 else _how(outcomes[-1][1])
            print(f"[claims] workers: {len(outcomes)}/{len(units)} units finished "
                  f"({futures[future]}: {how})", file=sys.stderr, flush=True)
        if alone:  # on the idle machine, with every core (or --threads)
            print(f"[claims] timed alone, after the other claims: {', '.join(alone)}",
                  flush=True)
            outcomes.append((_unit_name(alone, None),
                             _run_worker(command(alone, args.threads))))
    except KeyboardInterrupt:  # stop the workers (a terminal's Ctrl-C reached them too)
        import signal

        for proc in list(_LIVE):
            proc.send_signal(signal.SIGINT)
        pool.shutdown(wait=True, cancel_futures=True)
        print("interrupted: claims workers stopped; re-running the same command resumes",
              file=sys.stderr, flush=True)
        return 130
    pool.shutdown()
    failed = [(name, code) for name, code in outcomes if code != 0]
    if failed:
        print(f"error: {len(failed)} of {len(outcomes)} claims workers failed; no report "
              "written:", file=sys.stderr)
        for name, code in failed:
            print(f"  {name}: {_how(code)}", file=sys.stderr)
        # a signal's status is negative: report it the way a shell does (128 + signal)
        return max(code if code > 0 else 128 - code for _, code in failed)
    return None
