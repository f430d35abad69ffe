"""The tuning's Optuna parts on a toy objective: a seeded sampler gives the same trials twice,
each condition's sampler its own seed, the pruners by name, the space as Optuna's distributions."""
import math

from tracker.config import make_config
from tracker.runs import trials, tune
from tracker.runs.plan import Plan, Point
from tracker.study import Study
from tracker.tune_spec import Range, Tune

TUNE = Tune(6, 2, {"lr": Range(0.001, 0.5, True), "momentum": Range(0.0, 0.99), "optimizer": ("sgd", "adam")},
            sampler_seed=3)


def _plan(name="toy-1234") -> Plan:
    pts = [Point({"norm": n}, make_config({"norm": n, "download": False})) for n in ("batch", "group")]
    return Plan(name, "toy.toml", {"norm": ["batch", "group"]}, pts, Study(), tune=TUNE)


def _sampled(store: str, monkeypatch, index: int) -> list[dict]:
    """Six trials of a toy objective in a fresh storage: the values TPE asked for."""
    monkeypatch.setenv("TRACKER_STORE", store)
    study = tune.open_study(_plan(), "norm=batch", index)
    out = []
    for _ in range(TUNE.trials):
        trial = study.ask(tune.distributions(TUNE))
        study.tell(trial, -abs(math.log10(trial.params["lr"]) + 1.5))  # best near lr 0.03
        out.append(trial.params)
    return out


def test_a_seeded_sampler_gives_the_same_trials_twice(tmp_path, monkeypatch):
    first = _sampled(str(tmp_path / "a"), monkeypatch, 0)
    again = _sampled(str(tmp_path / "b"), monkeypatch, 0)
    other = _sampled(str(tmp_path / "c"), monkeypatch, 1)  # the next condition: its own seed
    assert first == again and len({p["lr"] for p in first}) == TUNE.trials
    assert [p["lr"] for p in other] != [p["lr"] for p in first]
    assert all(0.001 <= p["lr"] <= 0.5 and p["optimizer"] in ("sgd", "adam") for p in first)
    assert (tmp_path / "a" / "tune.db").exists()  # the studies beside the store


def test_a_study_is_loaded_again_with_its_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_STORE", str(tmp_path))
    _sampled(str(tmp_path), monkeypatch, 0)
    study = tune.open_study(_plan(), "norm=batch", 0)
    assert study.study_name == "toy-1234/norm=batch" and tune.counts(study) == (TUNE.trials, 0)
    b = tune.best("norm=batch", study)
    assert b.values == study.best_trial.params and b.value == study.best_value and b.finished == TUNE.trials


def test_pruners_and_distributions():
    import optuna

    kinds = {p: type(tune.make_pruner(Tune(2, 3, TUNE.space, pruner=p))) for p in ("median", "hyperband", "none")}
    assert kinds == {"median": optuna.pruners.MedianPruner, "hyperband": optuna.pruners.HyperbandPruner,
                     "none": optuna.pruners.NopPruner}
    d = tune.distributions(Tune(2, 3, {"batch_size": Range(16, 64), **TUNE.space}))
    assert isinstance(d["batch_size"], optuna.distributions.IntDistribution)
    assert d["lr"] == optuna.distributions.FloatDistribution(0.001, 0.5, log=True)
    assert d["optimizer"].choices == ("sgd", "adam")


def test_a_trial_config_and_the_seed_runs_config():
    cfg = _plan().points[0].cfg
    trial = trials.trial_config(cfg, TUNE, {"lr": 0.02, "optimizer": "adam"}, 4)
    assert (trial.lr, trial.optimizer, trial.epochs, trial.val_split, trial.seed) == (0.02, "adam", 2, 0.1, cfg.seed)
    assert trial.name == cfg.name + "-trial4"
    found = {"norm=batch": tune.Best("norm=batch", {"lr": 0.02}, 0.9, 5, 1),
             "norm=group": tune.Best("norm=group", {"lr": 0.3}, 0.8, 6, 0)}
    tuned = tune.tuned_plan(_plan(), found)
    assert [(pt.cfg.norm, pt.cfg.lr, pt.cfg.epochs) for pt in tuned.points] == [("batch", 0.02, 2), ("group", 0.3, 2)]
    assert '"values": {"lr": 0.3}' in tuned.points[1].tags["tracker.tuned"]
