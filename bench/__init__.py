"""The benchmark: ``bench/run.py`` and the scenarios it runs (``bench.scenarios``)."""
