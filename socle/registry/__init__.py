"""Master specs (``masters/<année scolaire>/<profile>.yaml``) and the store of published masters."""
