"""Établissement inventories: the model (files, groups), checks, CSV import and a synthetic generator."""
