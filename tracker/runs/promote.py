"""Which runs' models go into the registry, and under which name: one run, or the best run of
an experiment (or of each of its conditions); the name defaults to DATASET-ARCH-NORM.

    tracker models register --best --experiment mnist-demo --by-condition --alias champion
"""
from __future__ import annotations

from ..config import model_name
from ..errors import RegistryError, UserError
from ..results.counted import best_runs
from .. import names


def best(experiment: str, metric: str, by: list[str]) -> list[str]:
    """The best FINISHED run of the experiment by `metric`, or the best of each condition of `by`."""
    from ..tracking import store

    runs = [r for r in store.search(experiment, "attributes.status = 'FINISHED'")
            if r.tags.get(names.KIND) == names.TRAIN]
    found = best_runs(runs, metric, by)
    if not found:
        raise RegistryError(f"experiment {experiment!r} has no FINISHED run with metric {metric!r}")
    return [r.run_id for r in found]


def register(run_ids: list[str], name: str | None, alias: str | None) -> list:
    """Each run's model registered (under `name`, else its DATASET-ARCH-NORM); a run already
    registered under that name gives back its version."""
    from ..tracking import registry, store

    if len(run_ids) > 1 and name:
        raise UserError("--name names one model; with several conditions leave it out")
    if name:  # names are checked before any run is looked up
        registry.check_name(name)
    if alias:
        registry.check_alias(alias)
    out = []
    for rid in run_ids:
        out.append(registry.register(rid, name or model_name(store.get_run(rid).params), alias))
    return out
