"""The nightly conformity check: hosts and expected state, the evaluation, its history and reports."""
