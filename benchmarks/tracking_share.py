"""Share of each run's wall time spent in tracking calls, from the runs themselves.

    .venv/bin/python benchmarks/tracking_share.py --experiment mnist-norms

Every run records `tracker.tracking_s` (time inside MLflow calls while training: params,
per-epoch metric batches, checkpoints, curves) and `tracker.wall_s` (the run from its first
call to the end of training); model logging at the end is reported apart.
"""
import argparse

from tracker.settings import apply_mlflow_env


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", required=True)
    args = ap.parse_args()
    apply_mlflow_env()  # as the CLI sets it before mlflow is imported
    from tracker.tracking import store

    rows = []
    for r in store.search(args.experiment, "attributes.status = 'FINISHED'"):
        tags = r.tags
        if "tracker.tracking_s" not in tags:
            continue
        tracked, wall = float(tags["tracker.tracking_s"]), float(tags["tracker.wall_s"])
        rows.append((r.name, tracked, wall, r.seconds - wall))
    for name, tracked, wall, model in rows:
        print(f"{name:40s} tracking {tracked:7.2f} s of {wall:8.1f} s = {tracked / wall:6.2%}; "
              f"model logging after training {model:5.1f} s")
    if rows:
        print(f"worst share: {max(t / w for _, t, w, _ in rows):.2%} over {len(rows)} runs")


if __name__ == "__main__":
    main()
