"""A run's life: prepared, trained, ended (one place), resumed, synced; a sweep's plan and its
executors (local and Ray); a logged model evaluated.

    tracker sweep experiments/mnist-norms.toml --dry-run
"""
