"""The Région's results database (PostgreSQL): its tables, its roles and row-level security.

Every lycée serveur writes its nightly results itself (pull mode), over TLS, as its own login role
``lycee_<uai>``, a member of ``socle_lycee``. Row-level security lets that role insert and read only the
rows of its own UAI (``socle_uai()`` maps the session's role to its UAI); it cannot write the time a run
was recorded (the database sets it), so a lycée cannot make old results look fresh. ``socle_reporting``
(the Région's reports, the wave gate, the monthly review) reads every row and writes none.

:func:`provision` is idempotent: run it at each deployment of the database. :func:`add_lycee` creates
or rotates one lycée's role and returns its password, which goes to that serveur only (Ansible Vault).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa

from socle.conformity import history as conformity_history
from socle.core import history as core_history
from socle.core.errors import SocleError
from socle.core.history import transaction
from socle.core.uai import problem

LYCEE_GROUP = "socle_lycee"
REPORTING_GROUP = "socle_reporting"

#: (table, the expression that names the row's UAI)
_OWNED = (
    ("conformity_runs", "target"),
    ("conformity_hosts", "uai"),
    ("interventions", "uai"),
)
#: what a lycée may write in each table (never ids it does not own, never ``recorded``)
_INSERTABLE = {
    "conformity_runs": "target, at, hosts, conformant, percent, duration_s",
    "conformity_hosts": "run_id, host, uai, salle, profile, status, drifts, detail",
    "interventions": ", ".join(c.name for c in core_history.INTERVENTIONS.columns if c.name != "id"),
}


def role_of(uai: str) -> str:
    """The login role of one établissement's serveur."""
    if (why := problem(uai)) is not None:
        raise SocleError(why, hint="give the établissement's UAI as in its inventory file")
    return f"lycee_{uai.lower()}"


def _statements() -> list[str]:
    out = [
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{LYCEE_GROUP}') THEN
                CREATE ROLE {LYCEE_GROUP} NOLOGIN; END IF;
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{REPORTING_GROUP}') THEN
                CREATE ROLE {REPORTING_GROUP} NOLOGIN; END IF;
            END $$""",
        "CREATE TABLE IF NOT EXISTS lycee_roles (role name PRIMARY KEY, uai varchar(8) NOT NULL UNIQUE)",
        "REVOKE ALL ON lycee_roles FROM PUBLIC",
        # SECURITY DEFINER: a lycée role reads its own mapping without reading the table
        """CREATE OR REPLACE FUNCTION socle_uai() RETURNS varchar LANGUAGE sql STABLE SECURITY DEFINER
           SET search_path = pg_catalog, public
           AS $$ SELECT uai FROM public.lycee_roles WHERE role = session_user $$""",
        "REVOKE ALL ON FUNCTION socle_uai() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION socle_uai() TO {LYCEE_GROUP}",
        f"GRANT USAGE ON SCHEMA public TO {LYCEE_GROUP}, {REPORTING_GROUP}",
    ]
    for table, column in _OWNED:
        own = f"{column} = socle_uai()"
        if table == "conformity_hosts":  # and only into a run of its own (RLS on the runs applies here too)
            own += " AND run_id IN (SELECT id FROM conformity_runs)"
        out += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"REVOKE ALL ON {table} FROM PUBLIC, {LYCEE_GROUP}, {REPORTING_GROUP}",
            f"GRANT SELECT, INSERT ({_INSERTABLE[table]}) ON {table} TO {LYCEE_GROUP}",
            f"GRANT SELECT ON {table} TO {REPORTING_GROUP}",
            f"DROP POLICY IF EXISTS lycee_own ON {table}",
            f"CREATE POLICY lycee_own ON {table} TO {LYCEE_GROUP} USING ({own}) WITH CHECK ({own})",
            f"DROP POLICY IF EXISTS reporting_reads ON {table}",
            f"CREATE POLICY reporting_reads ON {table} FOR SELECT TO {REPORTING_GROUP} USING (true)",
        ]
        if table != "conformity_hosts":
            out.append(f"GRANT USAGE ON SEQUENCE {table}_id_seq TO {LYCEE_GROUP}")
    return out


def provision(admin_url: str) -> None:
    """Create (or bring up to date) the tables, the two group roles and the policies."""
    _postgresql_only(admin_url)
    with transaction(admin_url, conformity_history.RUNS.metadata) as con:
        core_history.INTERVENTIONS.metadata.create_all(con)
        for statement in _statements():
            con.execute(sa.text(statement))


def add_lycee(admin_url: str, uai: str, *, password: str | None = None) -> str:
    """Create or rotate the login role of ``uai``'s serveur; returns its password (give it to that
    serveur only: `ansible-vault`, never a repository)."""
    _postgresql_only(admin_url)
    role = role_of(uai)
    password = password or secrets.token_urlsafe(32)
    with transaction(admin_url, sa.MetaData()) as con:
        exists = con.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
        verb = "ALTER" if exists else "CREATE"
        # a role name and a password cannot be bound parameters in DDL: both are checked/quoted here
        quoted = con.execute(sa.text("SELECT quote_literal(:p)"), {"p": password}).scalar()
        con.execute(sa.text(f"{verb} ROLE {role} LOGIN PASSWORD {quoted}"))
        con.execute(sa.text(f"GRANT {LYCEE_GROUP} TO {role}"))
        con.execute(
            sa.text("INSERT INTO lycee_roles (role, uai) VALUES (:r, :u) ON CONFLICT (role) DO UPDATE SET uai = :u"),
            {"r": role, "u": uai},
        )
    return password


def add_reporter(admin_url: str, role: str, *, password: str | None = None) -> str:
    """A login role of the Région that reads every result (reports, the wave gate, the review)."""
    _postgresql_only(admin_url)
    if not role.isidentifier() or not role.islower():
        raise SocleError(f"'{role}' is not a role name", hint="lower-case letters, digits and _")
    password = password or secrets.token_urlsafe(32)
    with transaction(admin_url, sa.MetaData()) as con:
        exists = con.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
        quoted = con.execute(sa.text("SELECT quote_literal(:p)"), {"p": password}).scalar()
        con.execute(sa.text(f"{'ALTER' if exists else 'CREATE'} ROLE {role} LOGIN PASSWORD {quoted}"))
        con.execute(sa.text(f"GRANT {REPORTING_GROUP} TO {role}"))
    return password


def _postgresql_only(url: str | Path) -> None:
    if not str(url).startswith("postgresql"):
        raise SocleError(f"'{url}' is not a PostgreSQL URL",
                         hint="roles and row-level security need PostgreSQL: postgresql+psycopg://…")  # fmt: skip
