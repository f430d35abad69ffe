"""MLflow's own system-metrics monitor on a training run: CPU, memory, disk and network (and GPU
where a GPU and its NVML binding exist), sampled every SAMPLING_S seconds by a thread of its own
and logged as the run's system/* metrics, which fill its "System metrics" tab in the MLflow UI.
Off with the config key system_metrics = false or TRACKER_SYSTEM_METRICS=0.

    tracker train experiments/mnist-demo.toml --set system_metrics=false
"""
from __future__ import annotations

import logging

from ..settings import system_metrics

SAMPLING_S = 5.0  # MLflow's default is 10 s; a 30 s run then gets five samples, not two

for _quiet in ("mlflow.system_metrics", "mlflow.system_metrics.system_metrics_monitor"):
    logging.getLogger(_quiet).setLevel(logging.WARNING)  # its "started monitoring" lines


def start(tracking_uri: str, run_id: str, resume: bool = False):
    """The monitor of this run, started; None when turned off (or psutil is missing)."""
    if not system_metrics():
        return None
    try:
        import psutil  # noqa: F401  (what MLflow's monitor samples with)
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
    except ImportError:
        return None
    monitor = SystemMetricsMonitor(run_id, sampling_interval=SAMPLING_S, resume_logging=resume,
                                   tracking_uri=tracking_uri)
    monitor.start()
    return monitor
