"""One tracked training job: prepare everything, open a run, train into it, end it.

    tracker train experiments/mnist-demo.toml --set norm=group --data-dir ../shared/datasets
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..config import RunConfig
from ..ml import inference
from .drawing import Drawing
from ..signals import Interrupted, SignalGuard
from .. import names
from .epochs import Stopped, fit
from .prepare import Prepared, digests, inputs, prepare, summary_text


@dataclass
class Outcome:
    run_id: str
    buffered: int  # tracking calls waiting for the server (or `tracker sync`)


def train(cfg: RunConfig, config_file: str | None = None, tags: dict | None = None,
          offline: bool = False, threads: int | None = None, wait: float = 0.0, after_epoch=None,
          keep_model: bool = True) -> Outcome:
    """A new run of cfg, trained to its end: `tracker train` and each point of a sweep.
    threads: at most this many torch threads (a sweep worker's share of the cores); wait: s to
    wait for a tracking server that does not answer at the start (a sweep's child);
    after_epoch: the hook epochs.fit calls after each epoch (a tuning trial's pruner);
    keep_model=False: no model logged (a tuning trial: a probe, never served)."""
    from ..tracking import live

    p = prepare(cfg, threads)  # bad input fails here, before the run exists
    run = live.start_run(cfg.experiment, cfg.name, {
        **names.source(config_file, "tracker train"), names.GIT_COMMIT: p.params[names.GIT_COMMIT_PARAM],
        names.KIND: names.TRAIN, **(tags or {})}, offline=offline, system_metrics=cfg.system_metrics,
        wait=wait)

    def setup():
        read = inputs(p)
        run.log_params({**p.params, **digests(read)})
        run.log_inputs(read)
        run.log_text(summary_text(cfg, p.model), names.SUMMARY)
        run.log_text(json.dumps(dataclasses.asdict(cfg), indent=2), names.RESOLVED_CONFIG)
        if config_file:
            run.log_artifact(config_file, names.CONFIG_DIR)

    train_into(p, run, setup, None, after_epoch, keep_model)
    return Outcome(run.run_id, run.buffered)


@contextmanager
def lifetime(run):
    """The one place a run ends: FINISHED when the block completes, KILLED on a stop signal
    (the Interrupted learns the run's id, for the resume hint) or when its epoch hook stopped it
    (with the hook's tags), FAILED on any other error."""
    with SignalGuard() as guard:
        try:
            yield guard
        except Stopped as e:
            e.run_id = run.run_id
            run.set_tags(e.tags)
            run.end("KILLED", str(e))
            raise
        except Interrupted as e:
            e.run_id, e.resume = run.run_id, f"tracker resume {run.run_id}"
            run.end("KILLED", f"stopped by {e}")
            raise
        except BaseException as e:
            run.end("FAILED", f"{e.__class__.__name__}: {e}")
            raise
        run.end("FINISHED")


def train_into(p: Prepared, run, setup, state: dict | None, after_epoch=None, keep_model: bool = True) -> str:
    """Train an open run (new, or resumed from `state`) and log its model; returns its id."""
    started = time.perf_counter()
    drawing = None
    try:
        with lifetime(run) as guard:
            setup()
            figures = fit(p, run, guard, state, after_epoch)
            drawing = Drawing(figures)  # in a process of its own, while the model is exported
            wall = time.perf_counter() - started
            model = p.model.cpu().to(memory_format=torch.contiguous_format).eval()
            # the model evaluated (EMA weights, TTA), taking the test images as their dataset stores them
            if not keep_model:
                run.set_tags({names.WALL_S: f"{wall:.3f}"})
            elif not run.log_model(inference.package(model, p.cfg.dataset, p.cfg.tta, p.test.images),
                                   {names.WALL_S: f"{wall:.3f}"}):
                print(f"tracking server still unreachable: {run.buffered} calls of run "
                      f"{run.run_id} wait in {run.outbox.path}; replay them with `tracker sync`",
                      file=sys.stderr, flush=True)
            for path in drawing.paths():
                run.log_artifact(path)
            run.wait()
    finally:
        if drawing is not None:
            drawing.cancel()  # a no-op once drawn; stops the drawing process when the run failed
    return run.run_id

