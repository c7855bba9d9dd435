"""The Région's results database (PostgreSQL): its tables, its roles and row-level security.

Every lycée serveur writes its nightly results itself (pull mode), over TLS, as its own login role
``lycee_<uai>``, a member of ``socle_lycee``. Row-level security lets that role insert and read only the
rows of its own UAI (``socle_uai()`` maps the session's role to its UAI); it cannot write the time a run
was recorded (the database sets it), so a lycée cannot make old results look fresh. ``socle_reporting``
(the Région's reports, the wave gate, the monthly review) reads every row and writes none.

A lycée role is hostile input too (issue #36): it may insert only the row kinds pull mode produces (a
conformity intervention by the schedule, never a build, a reimage or another contractor's work),
every row passes CHECK constraints on what socle writes (vocabularies, UTC stamps, sizes), and each
lycée may insert at most :data:`ROW_QUOTA` rows a day. Readers still check every value (socle.core.history,
socle.conformity.history): a row that got in another way is counted as ignored, never a crash.

:func:`provision` is idempotent: run it at each deployment of the database. :func:`add_lycee` creates
or rotates one lycée's role and returns its password, which goes to that serveur only (Ansible Vault).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa

from socle.conformity import history as conformity_history
from socle.conformity.model import STATUSES
from socle.core import history as core_history
from socle.core.errors import SocleError
from socle.core.history import transaction
from socle.core.uai import problem

LYCEE_GROUP = "socle_lycee"
REPORTING_GROUP = "socle_reporting"
#: rows a lycée may insert per day (all tables): the biggest lycée checks ~1,500 hosts a night
ROW_QUOTA = 50_000
_STAMP_RE = core_history.STAMP_PATTERN
#: what every row must be (added NOT VALID: older rows stay, the readers judge them)
_CHECKS = {
    "interventions": (
        f"operation IN ({', '.join(repr(o) for o in core_history.OPERATIONS)})"
        f" AND outcome IN ({', '.join(repr(o) for o in core_history.OUTCOMES)})"
        f" AND operator_role IN ({', '.join(repr(o) for o in core_history.ROLES)})"
        f" AND started ~ '{_STAMP_RE}' AND finished ~ '{_STAMP_RE}'"
        f" AND (coalesce(requested_at, '') = '' OR requested_at ~ '{_STAMP_RE}')"
        " AND postes_total BETWEEN 0 AND 1000000 AND postes_ok BETWEEN 0 AND postes_total"
        " AND duration_s BETWEEN 0 AND 31622400 AND length(detail) <= 65536 AND length(postes) <= 65536"
    ),
    "conformity_hosts": f"status IN ({', '.join(repr(s) for s in STATUSES)}) AND length(detail) <= 262144",
    "conformity_runs": "hosts BETWEEN 0 AND 1000000 AND percent BETWEEN 0 AND 100",
}
#: what a lycée's own rows may be, beyond their UAI (pull mode writes conformity by the schedule only)
_LYCEE_ONLY = {"interventions": "operation = 'conformity' AND operator_role = 'schedule' AND organisation = 'region'"}

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


def _statements(row_quota: int = ROW_QUOTA) -> list[str]:
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
        "CREATE TABLE IF NOT EXISTS lycee_quota (uai varchar(8), day date, rows integer NOT NULL,"
        " PRIMARY KEY (uai, day))",
        "REVOKE ALL ON lycee_quota FROM PUBLIC",
        # SECURITY DEFINER: the counter is the database's, a lycée role can neither read nor reset it
        f"""CREATE OR REPLACE FUNCTION socle_quota() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
           SET search_path = pg_catalog, public AS $$
           DECLARE lycee varchar := socle_uai(); used integer;
           BEGIN
             IF lycee IS NULL THEN RETURN NEW; END IF;
             INSERT INTO public.lycee_quota AS q (uai, day, rows) VALUES (lycee, current_date, 1)
               ON CONFLICT (uai, day) DO UPDATE SET rows = q.rows + 1 RETURNING q.rows INTO used;
             IF used > {int(row_quota)} THEN
               RAISE EXCEPTION 'socle: % has written its {int(row_quota)} rows of the day', lycee
                 USING ERRCODE = 'check_violation';
             END IF;
             RETURN NEW;
           END $$""",
        "REVOKE ALL ON FUNCTION socle_quota() FROM PUBLIC",
    ]
    for table, column in _OWNED:
        own = f"{column} = socle_uai()"
        if table == "conformity_hosts":  # and only into a run of its own (RLS on the runs applies here too)
            own += " AND run_id IN (SELECT id FROM conformity_runs)"
        written = f"{own} AND {_LYCEE_ONLY[table]}" if table in _LYCEE_ONLY else own
        out += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"REVOKE ALL ON {table} FROM PUBLIC, {LYCEE_GROUP}, {REPORTING_GROUP}",
            f"GRANT SELECT, INSERT ({_INSERTABLE[table]}) ON {table} TO {LYCEE_GROUP}",
            f"GRANT SELECT ON {table} TO {REPORTING_GROUP}",
            f"DROP POLICY IF EXISTS lycee_own ON {table}",
            f"CREATE POLICY lycee_own ON {table} TO {LYCEE_GROUP} USING ({own}) WITH CHECK ({written})",
            f"""DO $$ BEGIN
                  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = '{table}_sane') THEN
                    ALTER TABLE {table} ADD CONSTRAINT {table}_sane CHECK ({_CHECKS[table]}) NOT VALID;
                  END IF;
                END $$""",
            f"DROP TRIGGER IF EXISTS socle_quota ON {table}",
            f"CREATE TRIGGER socle_quota BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION socle_quota()",
            f"DROP POLICY IF EXISTS reporting_reads ON {table}",
            f"CREATE POLICY reporting_reads ON {table} FOR SELECT TO {REPORTING_GROUP} USING (true)",
        ]
        if table != "conformity_hosts":
            out.append(f"GRANT USAGE ON SEQUENCE {table}_id_seq TO {LYCEE_GROUP}")
    return out


def provision(admin_url: str, *, row_quota: int = ROW_QUOTA) -> None:
    """Create (or bring up to date) the tables, the two group roles, the policies, the constraints and
    the daily quota of each lycée."""
    _postgresql_only(admin_url)
    with transaction(admin_url, conformity_history.RUNS.metadata) as con:
        core_history.INTERVENTIONS.metadata.create_all(con)
        for statement in _statements(row_quota):
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
