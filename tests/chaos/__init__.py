"""The chaos suite: the whole system under mixed load while processes and services fail.

`test_chaos.py` is the short form CI runs; `python -m tests.chaos` (`make chaos`) the long one.
"""
