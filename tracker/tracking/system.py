"""MLflow's own system-metrics monitor on a training run: CPU, memory, disk and network (and GPU
where a GPU and its NVML binding exist), sampled every SAMPLING_S seconds by a thread of its own,
and once more when the run ends, and logged as the run's system/* metrics, which fill its
"System metrics" tab in the MLflow UI.
Off with the config key system_metrics = false or TRACKER_SYSTEM_METRICS=0.

    tracker train experiments/mnist-demo.toml --set system_metrics=false
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from ..settings import system_metrics

SAMPLING_S = 5.0  # MLflow's default is 10 s; a 30 s run then gets five samples, not two
RIDE_S = 30.0  # samples wait at most this long for an epoch's metrics batch to ride with

for _quiet in ("mlflow.system_metrics", "mlflow.system_metrics.system_metrics_monitor"):
    logging.getLogger(_quiet).setLevel(logging.WARNING)  # its "started monitoring" lines


class Samples:
    """The monitor's samples as metrics rows, held for the run's next metrics batch."""

    def __init__(self):
        self._held: list = []
        self._lock = threading.Lock()

    def add(self, rows: list) -> list:
        """Hold these rows (key, value, timestamp ms, step); returns all held, to be sent
        alone, once the oldest has waited RIDE_S."""
        with self._lock:
            self._held += rows
            if not self._held or self._held[-1][2] - self._held[0][2] < RIDE_S * 1000:
                return []
            due, self._held = self._held, []
        return due

    def take(self) -> list:
        with self._lock:
            held, self._held = self._held, []
        return held


def start(tracking_uri: str, run_id: str, publish: Callable[[int, dict], None], resume: bool = False):
    """The monitor of this run, started, its samples handed to publish(step, metrics); None when
    turned off (or psutil is missing)."""
    if not system_metrics():
        return None
    try:
        import psutil  # noqa: F401  (what MLflow's monitor samples with)
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
    except ImportError:
        return None

    class Monitor(SystemMetricsMonitor):
        """MLflow's monitor (its samplers, their aggregation, its system/* keys and resumed
        steps) without its two REST calls per sample: its samples go to `publish` (the run's
        own queue, so they ride with an epoch's metrics, and through the outbox in an outage),
        not to a log_batch of their own, and it stops when the run ends, not by asking the
        server for the run's status after every sample."""

        def monitor(self):
            try:
                ended = False
                while not ended:
                    for _ in range(self.samples_before_logging):
                        ended = self._shutdown_event.wait(self.sampling_interval)
                        self.collect_metrics()  # at the interval's end: CPU use is since the last sample
                        if ended:  # the run ended: its last, shorter interval is sampled too, so
                            break  # a run shorter than SAMPLING_S still gets one sample
                    self.publish_metrics(self.aggregate_metrics())
            except Exception as e:  # a sampler that fails stops the sampling, not the run
                logging.getLogger(__name__).warning("system metrics stopped: %r", e)

        def publish_metrics(self, metrics):
            prefix = self._metrics_prefix + (self.node_id + "/" if self.node_id else "")
            publish(self._logging_step, {prefix + k: v for k, v in metrics.items()})
            self._logging_step += 1
            for m in self.monitors:
                m.clear_metrics()

        def finish(self):
            self._shutdown_event.set()
            if self._process is not None:
                self._process.join()
            self._process = None

    monitor = Monitor(run_id, sampling_interval=SAMPLING_S, resume_logging=resume,
                      tracking_uri=tracking_uri)
    monitor.start()
    return monitor
