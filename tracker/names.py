"""The names tracker writes into MLflow: tags, the params a run records of itself, the metrics a
training run logs per epoch, and the artifacts. A fact every folder reads (ml/ included), so it
stands at the top and imports nothing.

    tracker runs --filter "tags.tracker.kind = 'train'"
"""
from __future__ import annotations

KIND = "tracker.kind"  # train | sweep | evaluate | condition | trial
TRAIN, SWEEP_KIND, EVALUATE = "train", "sweep", "evaluate"
CONDITION_KIND = "condition"  # a sweep condition's curves across its runs (runs/conditions.py)
SUMMARIES = (SWEEP_KIND, CONDITION_KIND)  # runs that summarise other runs: compare never counts them
TRIAL_KIND = "trial"  # a tuning trial of a [tune] sweep (runs/tune.py): never a condition's replicate
SWEEP = "tracker.sweep"  # the sweep's id, on its parent and on every child
GRID_KEYS = "tracker.grid_keys"  # comma-separated
GRID = "tracker.grid."  # + key: the child's value (the parent's: the JSON list)
STUDY = "tracker.study"  # the sweep's declared analysis ([study]), JSON, on the parent and children
LOOK = "tracker.look"  # an adaptive sweep's latest look (1, 2, ...) on its parent
DECISIONS = "tracker.decisions"  # an adaptive sweep's decisions so far (JSON), on its parent: final
LOOK_TARGETS = "tracker.look_targets"  # the seeds per condition of the look being run (JSON), on its parent
CONDITION_OF = "tracker.condition_of"  # on a condition run: the id of its sweep's parent run
CONDITION = "tracker.condition"  # on a condition run: the condition's label (norm=batch)
TUNE_TRIAL = "tracker.tune.trial"  # on a trial run: its Optuna trial number in its condition's study
TUNE_CONDITION = "tracker.tune.condition"  # on a trial run: its condition's label (norm=batch)
TUNE_STATE = "tracker.tune.state"  # on a trial run: complete | pruned | killed | diverged
TRIAL_COMPLETE, TRIAL_PRUNED = "complete", "pruned"  # TUNE_STATE: the trials a budget counts
TRIAL_DIVERGED = "diverged"  # TUNE_STATE of a trial whose loss diverged (FAILED): counted, objective 0
TRIAL_KILLED = "killed"  # TUNE_STATE of a trial a stop or kill ended (KILLED): not counted, run again
TUNED = "tracker.tuned"  # JSON, on a tuned sweep's parent and seed runs: the budget and the values chosen
NOTE = "mlflow.note.content"  # a run's description: markdown on its page in the MLflow UI
PARENT = "mlflow.parentRunId"
GIT_COMMIT = "mlflow.source.git.commit"
SOURCE_NAME, SOURCE_TYPE = "mlflow.source.name", "mlflow.source.type"  # the UI's Source column
EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND_VALUE = "custom_model_development"  # opens the UI's model-training view
PID, HOST = "tracker.pid", "tracker.host"
HEARTBEAT = "tracker.heartbeat"  # unix seconds: set at the start, then by an epoch's batch once a minute
ERROR = "tracker.error"
RESUMES = "tracker.resumes"
RESUMED_ON = "tracker.resumed_on"  # "epoch N: DEVICE, PRECISION, channels_last X" per resume elsewhere
MODEL_URI = "tracker.model_uri"
TRACKING_S, WALL_S, SENDING_S = "tracker.tracking_s", "tracker.wall_s", "tracker.sending_s"
NONDETERMINISTIC = "tracker.nondeterministic"  # ops that ran without a deterministic kernel
DEVICES = "tracker.devices"  # a Ray sweep's parent: where its runs trained ("cuda:0 x3, cpu x1")

# params a training run records of where and how it computed (beside its config's keys)
TF32_USED = "tf32_used"  # True: TF32 matmuls and convolutions ran (tf32 = true on Ampere and later)
DETERMINISTIC_USED = "deterministic_used"  # True, False, or unchecked (MPS has no switch)

# what a training run records of itself as params, beyond its config
PARAMS_TOTAL, PARAMS_TRAINABLE, RECEPTIVE_FIELD = "params_total", "params_trainable", "receptive_field"
DEVICE_USED, PRECISION_USED, CHANNELS_LAST = "device_used", "precision_used", "channels_last"
GIT_COMMIT_PARAM = "git_commit"
VERSIONS = {"torch": "torch_version", "torchvision": "torchvision_version", "mlflow": "mlflow_version"}
DIGEST = "_digest"  # split + this: train_digest, test_digest (the data read, as in its dataset inputs)
TRAIN_DIGEST, TEST_DIGEST = "train" + DIGEST, "test" + DIGEST
TEST_IMAGES = "test_images"  # the images its test accuracy was computed on: one is its resolution
ENVIRONMENT = (DEVICE_USED, PRECISION_USED, CHANNELS_LAST, TF32_USED, DETERMINISTIC_USED, *VERSIONS.values(),
               GIT_COMMIT_PARAM)
RECORDED = (PARAMS_TOTAL, PARAMS_TRAINABLE, RECEPTIVE_FIELD, TRAIN_DIGEST, TEST_DIGEST, TEST_IMAGES, *ENVIRONMENT)

# one epoch of a training run, logged at step = epoch (accuracies are fractions in [0, 1])
TRAIN_LOSS, TRAIN_ACC, TEST_LOSS, TEST_ACC = "train_loss", "train_acc", "test_loss", "test_acc"
LR, EPOCH_TIME = "lr", "epoch_time_s"
IMAGES_PER_S = "train_images_per_s"  # the training pass's throughput
PEAK_RSS, PEAK_GPU = "peak_rss_mib", "peak_gpu_mib"  # at the run's end: its peak memory
VAL_LOSS, VAL_ACC = "val_loss", "val_acc"  # when the run holds out a validation split
TEST_ACC_BEST, TRAIN_ACC_BEST, VAL_ACC_BEST = "test_acc_best", "train_acc_best", "val_acc_best"
EPOCH_TIME_MEAN = "epoch_time_mean_s"
TEST_ACC_AT_BEST_VAL = "test_acc_at_best_val"  # the test accuracy of the best validation epoch so far
EPOCH_METRICS = (TRAIN_LOSS, TRAIN_ACC, TEST_LOSS, TEST_ACC, LR, EPOCH_TIME, IMAGES_PER_S)
VAL_METRICS = (VAL_LOSS, VAL_ACC)
RUNNING_METRICS = (TEST_ACC_BEST, TRAIN_ACC_BEST, EPOCH_TIME_MEAN)  # up to that epoch
CURVES = (TEST_ACC, TEST_LOSS)  # what compare plots per condition
CURVE_STATS = ("mean", "ci_low", "ci_high")  # per epoch across a condition's runs (results/per_epoch.band)
CONDITION_CURVES = "condition/"  # a condition run's metrics, one chart section in the MLflow UI
CLASS_ACC = "test_acc_class_"  # + class index: per-class test accuracy of the final evaluation

# artifacts every training run logs, and `tracker report` reads
SUMMARY = "summary.txt"  # torchinfo
CURVES_PNG = "curves.png"
CONFIG_DIR, RESOLVED_CONFIG = "config", "config/resolved.json"  # the sweep or run file, and the config
CONFUSION_JSON, CONFUSION_PNG = "confusion_matrix.json", "confusion_matrix.png"
MISCLASSIFIED_JSON, MISCLASSIFIED_PNG = "misclassified.json", "misclassified.png"
REPORT_DIR = "report"  # where a sweep's parent run keeps `tracker report`'s files
COMPARE_JSON, COMPARE_MD = "compare.json", "compare.md"  # a sweep's parent: the comparison, live
LOOKS_DIR = "looks"  # an adaptive sweep's parent: the table at each look
MODEL = "model"  # the name of a run's logged model: runs:/RUN_ID/model

STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


def source(config_file: str | None, command: str) -> dict[str, str]:
    """MLflow's source tags, which fill the UI's Source column: the experiment file, else the command."""
    return {SOURCE_NAME: config_file or command, SOURCE_TYPE: "LOCAL"}


def condition_curve(key: str, stat: str) -> str:
    """A condition run's metric: condition/test_acc is the mean of its runs' test_acc per epoch,
    condition/test_acc_ci_low and _ci_high its interval (sorted so, the mean's chart comes first)."""
    return CONDITION_CURVES + key + ("" if stat == "mean" else f"_{stat}")
