"""Sweep children as Ray tasks on a cluster, every one logging to one shared tracking server.

    MLFLOW_TRACKING_URI=http://HEAD:5000 tracker sweep experiments/mnist-norms.toml \
        --executor ray --address HEAD:6379 --cpus-per-run 2

Ray is imported inside functions only: `tracker --help` and local sweeps never load it.
A task whose worker dies is retried by Ray (MAX_RETRIES); the retry finds the run the dead
attempt left RUNNING, marks it KILLED and resumes it from its last checkpoint, in the same run.
"""
from __future__ import annotations

import dataclasses
import socket
import sys
from pathlib import Path
from typing import Iterator

from ..config import RunConfig
from ..errors import RunLost, UserError
from ..settings import EPOCH_LINES_ENV, PROGRESS_ENV, URI_ENV, epoch_lines, mlflow_env, store_root, uri_env
from .. import names
from ..tracking.uri import check_reachable, is_local, redact
from .sweep import find_child

MAX_RETRIES = 2  # worker deaths per run that Ray retries; a user error is never retried
NEEDS_RAY = "--executor ray needs Ray: pip install 'tracker[ray]'"


def shared_uri() -> str:
    """MLFLOW_TRACKING_URI if it is a server every node can reach; else a one-line error."""
    uri = uri_env()
    if not uri or is_local(uri):
        where = (f"{URI_ENV}={redact(uri)} is a local store" if uri else
                 f"{URI_ENV} is unset, so runs would go to the embedded store {store_root()}")
        raise UserError(f"--executor ray needs a tracking server every node can reach; {where}, which "
                        "the Ray workers cannot see: start a server (tracker server --host 0.0.0.0, or "
                        f"docker compose up) and export {URI_ENV}=http://HOST:5000")
    check_reachable(uri)
    return uri


def worker_env(uri: str) -> dict[str, str]:
    """What each task needs in its environment: the server, MLflow's settings as tracker sets
    them, no progress bars, and a line per epoch only where the driver prints them (Ray sends a
    task's output to the driver's). The data folder travels in each run's config. Credentials
    are not sent: Ray shows a job's runtime_env in its dashboard, so they belong in the
    environment of `ray start` on each node."""
    return {**mlflow_env(), URI_ENV: uri, PROGRESS_ENV: "0", EPOCH_LINES_ENV: "1" if epoch_lines() else "0"}


def check_gpus(gpus: float, devices: set[str]) -> None:
    """Refuse, before anything runs, what a run could not use: more than one GPU (a run trains
    on one), a GPU index (Ray gives each task its own GPU, as cuda:0), cuda with none reserved."""
    if gpus > 1:
        raise UserError(f"--gpus-per-run {gpus:g}: a run trains on one GPU (no data parallelism), "
                        "so Ray would hold the rest idle; use 1, or a fraction such as 0.5 to put "
                        "two runs on each GPU")
    indexed = sorted(d for d in devices if d.startswith("cuda:"))
    if indexed:
        raise UserError(f"config key 'device': {indexed[0]} names a GPU by index, but Ray gives each "
                        "run the GPU it reserved (--gpus-per-run); use device = \"cuda\" or \"auto\"")
    if gpus == 0 and "cuda" in devices:
        raise UserError("config key 'device': cuda, but --gpus-per-run is 0, so the runs would have "
                        "no GPU; reserve one with --gpus-per-run 1 (or a fraction such as 0.5)")


def place_task(gpus: float) -> None:
    """In a task: no GPU reserved means the CPU even where the node has GPUs (Ray leaves them
    visible to a task that reserved none); a fraction caps the run's share of its GPU."""
    from ..ml.device import place

    place(cpu_only=gpus == 0, share=gpus if 0 < gpus < 1 else None)


def check_address(address: str | None) -> None:
    """A HOST:PORT that refuses connections is one line now; Ray itself retries for minutes."""
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address!r}: expected HOST:PORT (the head's GCS port, 6379 by "
                        "default), auto, or ray://HOST:10001")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise UserError(f"no Ray cluster answers at {address} ({e.__class__.__name__}); start one "
                        f"(ray start --head --port {port}) or fix --address") from None


class RayPool:
    """Grid points as Ray tasks with fixed resources; the shape of a ProcessPoolExecutor loop."""

    def __init__(self, address: str | None, cpus: int, gpus: float, devices: set[str] = frozenset()):
        check_gpus(gpus, set(devices))
        uri = shared_uri()  # before Ray starts and before any run exists
        check_address(address)
        try:
            import ray
        except ImportError:
            raise UserError(NEEDS_RAY) from None
        self.ray, self.cpus, self.gpus = ray, cpus, gpus
        try:  # address None: RAY_ADDRESS, else a new local instance
            ray.init(address=address, runtime_env={"env_vars": worker_env(uri)},
                     logging_level="warning", log_to_driver=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise UserError(f"cannot join the Ray cluster at {address or 'RAY_ADDRESS/local'}: "
                            f"{str(e).splitlines()[0] if str(e) else e.__class__.__name__}") from None
        self.task = ray.remote(_run_point).options(
            num_cpus=cpus, num_gpus=gpus, max_retries=MAX_RETRIES, retry_exceptions=False)
        from ..ml.device import ray_gpu_note  # where the runs train: one line at the start

        note = ray_gpu_note(gpus, set(devices), ray.cluster_resources().get("GPU", 0))
        if note:
            print(note, file=sys.stderr, flush=True)
        self.pending: dict = {}

    def submit(self, cfg: RunConfig, config_file: str, tags: dict, resume_id: str | None):
        cfg = _absolute(cfg)
        ref = self.task.remote(cfg, Path(config_file).name, Path(config_file).read_text(), tags,
                               self.cpus, resume_id, self.gpus)
        self.pending[ref] = (cfg, tags)
        return ref

    def as_completed(self, refs) -> Iterator:
        left = list(refs)
        while left:
            done, left = self.ray.wait(left, num_returns=1)
            yield done[0]

    def result(self, ref) -> tuple[str, str]:
        """The run id and the device it trained on; a user error raises as itself, a run lost
        to worker deaths as RunLost."""
        from ray.exceptions import RayError, RayTaskError

        cfg, tags = self.pending.pop(ref)
        try:
            return self.ray.get(ref)
        except RayTaskError as e:
            raise _cause(e) from None
        except RayError as e:  # the worker (or its node) died on every attempt
            from ..tracking import store

            run = find_child(tags[names.SWEEP], cfg.experiment, cfg.name)
            if run is not None and run.status == "RUNNING":
                store.mark_killed(run.run_id, f"its Ray worker died {MAX_RETRIES + 1} times")
            raise RunLost(f"{cfg.name}: its Ray worker died {MAX_RETRIES + 1} times "
                          f"({e.__class__.__name__}); run the sweep again to resume it") from None

    def tune(self, fn, plan, parent_id: str) -> Iterator[tuple[str, object]]:
        """Each condition's tuning as a Ray task of `fn` (runs/tune.ray_task) with a run's
        resources, its trials one at a time; yields (label, its Best) as each ends. The tasks
        share the driver's Optuna storage (settings.tune_storage(): TRACKER_TUNE_DB on a cluster)."""
        from ..settings import tune_storage

        task = self.ray.remote(fn).options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=0)
        plan = dataclasses.replace(plan, points=[dataclasses.replace(pt, cfg=_absolute(pt.cfg)) for pt in plan.points])
        text = Path(plan.file).read_text() if plan.file else ""
        refs = {task.remote(plan, Path(plan.file).name if plan.file else "", text, parent_id, label, index,
                            self.cpus, self.gpus, tune_storage()): label
                for index, label in enumerate(plan.conditions())}
        for ref in self.as_completed(refs):
            yield refs[ref], self._get(ref)

    def _get(self, ref):
        from ray.exceptions import RayTaskError

        try:
            return self.ray.get(ref)
        except RayTaskError as e:
            raise _cause(e) from None

    def close(self, wait: float = 30.0) -> None:
        """Shut down; tasks still pending (the sweep was interrupted) are cancelled first, which
        raises in them like Ctrl-C, so they end their runs KILLED within `wait` seconds."""
        if self.pending:
            for ref in self.pending:
                self.ray.cancel(ref)
            self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=wait)
        self.ray.shutdown()


def _cause(e: Exception) -> Exception:
    """What a task raised (a user error raises as itself), else the Ray error."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, Exception) else e


def _absolute(cfg: RunConfig) -> RunConfig:
    """The config with its data folder as the driver sees it, for every node."""
    if Path(cfg.data_dir).expanduser().is_absolute():
        return cfg
    return dataclasses.replace(cfg, data_dir=str(Path(cfg.data_dir).expanduser().absolute()))


def _run_point(cfg: RunConfig, config_name: str, config_text: str, tags: dict, threads: int,
               resume_id: str | None, gpus: float = 0.0) -> tuple[str, str]:
    """One grid point on a Ray worker: resume the run a dead attempt left, else start one.
    Returns its run id and the device it trained on (auto: a GPU only if the task reserved one)."""
    from ..ml.device import PLACEMENT
    from .sweep import run_point

    place_task(gpus)
    config_file = store_root() / "files" / "sweeps" / tags[names.SWEEP] / cfg.name / config_name
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config_text)  # logged as the run's config artifact, as locally
    rid = _take_over(tags[names.SWEEP], cfg, resume_id)
    return run_point(cfg, str(config_file), tags, threads, rid), PLACEMENT.used


def _take_over(sweep_name: str, cfg: RunConfig, resume_id: str | None) -> str | None:
    """The run to resume: the KILLED one the sweep handed over, or the one an earlier attempt
    of this task left RUNNING when its worker died (the parent schedules each point once)."""
    from ..tracking import store

    run = store.get_run(resume_id) if resume_id else find_child(sweep_name, cfg.experiment, cfg.name)
    if run is None:
        return None
    if run.status == "RUNNING":
        resumes = int(run.tags.get(names.RESUMES, "0")) + 1
        store.mark_killed(run.run_id, f"its Ray worker died (pid {run.tags.get(names.PID)} on "
                          f"{run.tags.get(names.HOST)})", {names.RESUMES: str(resumes)})
    if "epochs" not in run.params:  # died before it logged its config: start over
        return None
    return run.run_id
