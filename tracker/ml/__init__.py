"""The ML core: datasets, batches, models, training loops, devices, checkpoints. torch, no
MLflow; nothing here knows about runs, results or the command line.

    tracker summary --set arch=s8 --set dataset=cifar10
"""
