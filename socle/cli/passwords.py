"""Console side of `invoke admin-password`: a Windows poste's local administrator password."""

from __future__ import annotations

from socle.core import vault
from socle.core.identity import who


def admin_password(*, host: str) -> None:
    data = vault.show(host, who())
    for state in ("current", "pending"):
        if data.get(state):
            print(f"{state:8}: {data[state]['password']}")
    for old in data.get("unconfirmed", []):
        print(f"unconfirmed (an interrupted rotation, {old['created_at']}): {old['password']}")
