"""A run's life: prepared, trained, ended (one place), resumed, synced; a sweep's pure plan, its
one driver (a plain sweep is one look; --until-decided adds looks) and the pool its runs execute
in (here, worker processes, Ray); a model promoted to the registry or evaluated.

    tracker sweep experiments/mnist-norms.toml --dry-run
"""
