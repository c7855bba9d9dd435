"""The monthly review: KPIs from the history database, and the report for the contract meeting."""
