"""`python -m tracker.cli ...` is `tracker ...`.

    python -m tracker.cli --help
"""
from . import main

main()
