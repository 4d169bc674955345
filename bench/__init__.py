"""Benchmarks of workforce's hot paths at marketplace scale, each beside its floor (the
fastest way to do the same work on the same machine). Run ``python -m bench --help``."""
