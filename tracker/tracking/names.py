"""The names tracker writes into MLflow: tags, and the metrics a training run logs per epoch.

    tracker runs --filter "tags.tracker.kind = 'train'"
"""
from __future__ import annotations

KIND = "tracker.kind"  # train | sweep | evaluate
TRAIN, SWEEP_KIND, EVALUATE = "train", "sweep", "evaluate"
SWEEP = "tracker.sweep"  # the sweep's id, on its parent and on every child
GRID_KEYS = "tracker.grid_keys"  # comma-separated
GRID = "tracker.grid."  # + key: the child's value (the parent's: the JSON list)
PARENT = "mlflow.parentRunId"
GIT_COMMIT = "mlflow.source.git.commit"
EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_VALUE = "custom_model_development"  # opens the UI's model-training view
PID, HOST = "tracker.pid", "tracker.host"
HEARTBEAT = "tracker.heartbeat"  # unix seconds of the last logged epoch
ERROR = "tracker.error"
RESUMES = "tracker.resumes"
MODEL_URI = "tracker.model_uri"
TRACKING_S, WALL_S, SENDING_S = "tracker.tracking_s", "tracker.wall_s", "tracker.sending_s"

# one epoch of a training run, logged at step = epoch (accuracies are fractions in [0, 1])
TRAIN_LOSS, TRAIN_ACC, TEST_LOSS, TEST_ACC = "train_loss", "train_acc", "test_loss", "test_acc"
LR, EPOCH_TIME = "lr", "epoch_time_s"
VAL_LOSS, VAL_ACC = "val_loss", "val_acc"  # when the run holds out a validation split
TEST_ACC_BEST, TRAIN_ACC_BEST, VAL_ACC_BEST = "test_acc_best", "train_acc_best", "val_acc_best"
EPOCH_TIME_MEAN = "epoch_time_mean_s"
EPOCH_METRICS = (TRAIN_LOSS, TRAIN_ACC, TEST_LOSS, TEST_ACC, LR, EPOCH_TIME)
VAL_METRICS = (VAL_LOSS, VAL_ACC)
RUNNING_METRICS = (TEST_ACC_BEST, TRAIN_ACC_BEST, EPOCH_TIME_MEAN)  # up to that epoch
CURVES = (TEST_ACC, TEST_LOSS)  # what compare plots per condition
CLASS_ACC = "test_acc_class_"  # + class index: per-class test accuracy of the final evaluation

# artifacts every training run logs, and `tracker report` reads
SUMMARY = "summary.txt"  # torchinfo
CURVES_PNG = "curves.png"
CONFIG_DIR, RESOLVED_CONFIG = "config", "config/resolved.json"  # the sweep or run file, and the config
CONFUSION_JSON, CONFUSION_PNG = "confusion_matrix.json", "confusion_matrix.png"
MISCLASSIFIED_JSON, MISCLASSIFIED_PNG = "misclassified.json", "misclassified.png"
REPORT_DIR = "report"  # where a sweep's parent run keeps `tracker report`'s files

STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
