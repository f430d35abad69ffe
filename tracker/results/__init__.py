"""What the runs say: which runs count, statistics, the comparison table, epoch figures, plots,
reports, and the one renderer of every table and page. Reads runs through tracking.query;
knows nothing of the command line.

    tracker compare --experiment mnist-demo --format markdown
"""
