"""Test and benchmark kits: tiny datasets in torchvision's real on-disk formats, and real
servers (mlflow, PostgreSQL, moto S3) started on 127.0.0.1. Used by tests/ and benchmarks/.

    python -c "from tracker.testkit.fakedata import write_mnist; write_mnist('/tmp/d')"
"""
