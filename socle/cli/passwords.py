"""Console side of `invoke admin-password`: a Windows poste's local administrator password."""

from __future__ import annotations

from socle.core import operator, vault


def admin_password(*, host: str) -> None:
    me = operator.current()
    data = vault.show(host, f"{me.name} ({me.role}, {me.organisation})")
    for state in ("current", "pending"):
        if data.get(state):
            print(f"{state:8}: {data[state]['password']}")
    for old in data.get("unconfirmed", []):
        print(f"unconfirmed (an interrupted rotation, {old['created_at']}): {old['password']}")
