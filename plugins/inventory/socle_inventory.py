# Copyright: socle contributors. EUPL-1.2
"""Ansible inventory plugin for socle's établissement files."""

from __future__ import annotations

DOCUMENTATION = """
    name: socle_inventory
    short_description: Établissements, salles, postes and serveurs from socle inventories
    description:
      - Reads C(<région>/etablissements/<UAI>.yaml) files next to the plugin configuration file
        (a file named C(socle.yml)) and builds the groups operations target.
      - Groups are C(etab_<uai>), C(salle_<uai>_<room>), C(profile_<profile>), C(discipline_<d>),
        C(academie_<a>), C(type_<t>), C(zone_<z>), C(wave_<w>), C(postes) and C(serveurs).
      - Validation with located errors is C(invoke inventory.check); this plugin refuses files it
        cannot read, YAML aliases, reserved host names (C(all), C(localhost), group names) and
        school or salle C(vars) outside the allowlist of the établissement schema (no connection or
        privilege variable can come from a school file).
    author: socle contributors
    options:
      plugin:
        description: Token that ensures this is a source file for this plugin.
        required: true
        choices: ['socle_inventory']
      etablissements_dir:
        description: Folder of établissement files, relative to the configuration file.
        type: str
        default: etablissements
      only_uai:
        description:
          - Load only these établissements (pull mode on a lycée serveur loads its own school).
        type: list
        elements: str
        default: []
        env:
          - name: SOCLE_INVENTORY_ONLY_UAI
      parse_cache:
        description:
          - Folder where the parsed form of each file is kept (JSON, keyed by the file's size and
            modification time), so that unchanged files are not parsed again. Empty disables it.
        type: str
        default: ~/.cache/socle/inventory
        env:
          - name: SOCLE_INVENTORY_CACHE
"""

EXAMPLES = """
# inventories/grand-est/socle.yml
plugin: socle_inventory
"""

import hashlib
import ipaddress
import json
import os
import re

import yaml
from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

try:  # ansible-core >= 2.19 does not template inventory strings unless they are trusted
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core templates every string

    def trust_as_template(value):
        return value


#: each poste's MAC, read from its salle's table when a play uses it
_MAC_TEMPLATE = trust_as_template("{{ socle_macs[inventory_hostname] }}")

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BAD = re.compile(r"[^a-z0-9_]")
#: line breaks to YAML that git and the forges do not show (U+2028, U+2029, U+0085, a lone CR):
#: a one-line "comment" would hide keys from the file's reviewers (socle.core.yamlio)
_HIDDEN_BREAK = re.compile(rb"\r(?!\n)|\xe2\x80[\xa8\xa9]|\xc2\x85")
#: host names that mean something else to Ansible or to this plugin (socle.inventory.model)
_RESERVED = frozenset({"all", "ungrouped", "localhost", "postes", "serveurs"})
#: an anchor or an alias may start here; only then are the events scanned (a cheap pre-check)
_ALIAS_HINT = re.compile(rb"(?:^|[\s\[{,:?-])[&*][^\s,\[\]{}]", re.M)
_SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "socle", "schemas", "etablissement.schema.json")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_VALUE = re.compile(r"^[A-Za-z0-9._-]{0,64}$")
_ALLOWED_VARS = None


def _allowed_vars():
    """The variables a school file may set: the établissement schema's allowlist."""
    global _ALLOWED_VARS
    if _ALLOWED_VARS is None:
        with open(_SCHEMA, encoding="utf-8") as fh:
            _ALLOWED_VARS = frozenset(json.load(fh)["$defs"]["vars"]["properties"])
    return _ALLOWED_VARS


def _ip(value, host):
    """An IPv4 address, never text ssh could read as an option or a template could run."""
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        message = f"{host}: ip '{str(value)[:40]}' is not an IPv4 address; run 'invoke inventory.check'"
        raise AnsibleParserError(message) from None


def _checked_vars(variables, where):
    """School or salle vars, refused unless every name is allowlisted and every value a plain word or number."""
    if not isinstance(variables, dict):
        raise AnsibleParserError(f"{where}: vars must be a mapping; run 'invoke inventory.check'")
    for key, value in variables.items():
        if key not in _allowed_vars():
            raise AnsibleParserError(
                f"{where}: variable {str(key)[:60]!r} cannot be set in a school file (connection, privilege and "
                "identity settings come from the Région's group_vars); run 'invoke inventory.check'"
            )
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not _VALUE.match(str(value)):
            raise AnsibleParserError(f"{where}: variable {key} has a value that is not a plain word or number")
    return variables


def _host(name, uai):
    name = str(name)
    if name in _RESERVED or not _HOSTNAME.match(name):
        raise AnsibleParserError(f"établissement {uai}: {name[:60]!r} cannot be a host name (invoke inventory.check)")
    return name


def _g(*parts):
    return _BAD.sub("_", "_".join(str(p) for p in parts).lower())


class InventoryModule(BaseInventoryPlugin):
    NAME = "socle_inventory"

    def verify_file(self, path):
        return super().verify_file(path) and os.path.basename(path) in ("socle.yml", "socle.yaml")

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        folder = os.path.join(os.path.dirname(path), self.get_option("etablissements_dir"))
        if not os.path.isdir(folder):
            raise AnsibleParserError(f"{path}: no folder {folder} of établissement files")
        inv = self.inventory
        for name in ("postes", "serveurs"):
            inv.add_group(name)
        known = {"postes", "serveurs"}
        cache_dir = os.path.expanduser(self.get_option("parse_cache") or "")
        only = {u.strip().upper() for u in self.get_option("only_uai") or [] if u.strip()}

        def group(name, parent=None):
            if name not in known:
                inv.add_group(name)
                known.add(name)
            if parent:
                inv.add_child(parent, name)
            return name

        for fname in sorted(os.listdir(folder)):
            if not fname.endswith((".yaml", ".yml")) or (only and fname.split(".")[0].upper() not in only):
                continue
            fpath = os.path.join(folder, fname)
            try:
                self._school(self._read(fpath, cache_dir), group)
            except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
                raise AnsibleParserError(
                    f"{fpath}: cannot read this établissement ({exc}); run 'invoke inventory.check'"
                ) from exc

    @staticmethod
    def _read(fpath, cache_dir):
        """Parse one file, through the JSON parse cache when the file is unchanged."""
        if os.path.islink(fpath) or not os.path.isfile(fpath):
            raise AnsibleParserError(f"{fpath}: not a regular file (a link or a folder); run 'invoke inventory.check'")
        stat = os.stat(fpath)
        cached = None
        if cache_dir:
            key = hashlib.sha256(f"{os.path.realpath(fpath)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
            cached = os.path.join(cache_dir, key[:2], key + ".json")
            try:
                with open(cached, "rb") as fh:
                    return json.loads(fh.read())
            except (OSError, ValueError):
                pass
        with open(fpath, "rb") as fh:
            raw = fh.read()
        hidden = _HIDDEN_BREAK.search(raw)
        if hidden:
            line = raw.count(b"\n", 0, hidden.start()) + 1
            raise AnsibleParserError(f"{fpath}:{line}: a line break git does not show (U+2028, U+2029, U+0085 or a "
                                     "lone CR); run 'invoke inventory.check'")  # fmt: skip
        if _ALIAS_HINT.search(raw):  # refused: a few lines of aliases expand into gigabytes
            for event in yaml.parse(raw, Loader=_LOADER):
                if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                    raise AnsibleParserError(f"{fpath}: YAML anchors and aliases are not accepted")
        school = yaml.load(raw, Loader=_LOADER)
        if cached:
            try:
                os.makedirs(os.path.dirname(cached), exist_ok=True)
                tmp = f"{cached}.{os.getpid()}.tmp"
                with open(tmp, "w") as fh:
                    json.dump(school, fh, default=str)
                os.replace(tmp, cached)
            except OSError:
                pass
        return school

    def _school(self, school, group):
        inv = self.inventory
        uai = str(school["uai"])
        etab = group(_g("etab", uai))
        for key, value in (
            ("socle_uai", uai),
            ("socle_etab_name", school["name"]),
            ("socle_zone", school["zone"]),
            ("socle_wave", str(school["wave"])),
            ("socle_academie", school["academie"]),
            ("socle_options", school.get("options") or {}),
        ):
            inv.set_variable(etab, key, value)
        for key, value in _checked_vars(school.get("vars") or {}, f"établissement {uai}").items():
            inv.set_variable(etab, key, value)
        for srv in school.get("serveurs") or []:
            host = _host(srv["hostname"], uai)
            inv.add_host(host, group="serveurs")
            inv.add_child(etab, host)
            inv.set_variable(host, "socle_role", srv["role"])
            if srv.get("ip") and srv["ip"] != "dhcp":
                inv.set_variable(host, "ansible_host", _ip(srv["ip"], host))
        for salle in school.get("salles") or []:
            room = str(salle["id"])
            # A salle is a group of groups: its postes are members through it, so each poste is
            # added once. Postes join the salle before the salle joins its parents, so Ansible
            # walks each poste's ancestors once, not once per parent.
            sg = group(_g("salle", uai, room))
            # MAC addresses live on the salle (one variable, not one per host); each poste reads
            # its own through socle_mac, templated lazily when a play uses it
            macs = {}
            for poste in salle.get("postes") or []:
                host = _host(poste["hostname"], uai)
                inv.add_host(host, group=sg)
                macs[host] = poste.get("mac")
                ip = poste.get("ip")
                if ip and ip != "dhcp":
                    inv.set_variable(host, "ansible_host", _ip(ip, host))
            for key, value in (
                ("socle_salle", room),
                ("socle_usage", salle.get("usage", "")),
                ("socle_disciplines", list(salle.get("disciplines") or [])),
                ("socle_profile", salle["profile"]),
                ("socle_macs", macs),
                ("socle_mac", _MAC_TEMPLATE),
            ):
                inv.set_variable(sg, key, value)
            for key, value in _checked_vars(salle.get("vars") or {}, f"salle {uai}/{room}").items():
                inv.set_variable(sg, key, value)
            inv.add_child(etab, sg)
            inv.add_child("postes", sg)
            inv.add_child(group(_g("profile", salle["profile"])), sg)
            for d in salle.get("disciplines") or []:
                inv.add_child(group(_g("discipline", d)), sg)
        # the établissement joins its parents last, when its tree is complete (see above)
        for parent in (
            _g("academie", school["academie"]),
            _g("type", school["type"]),
            _g("zone", school["zone"]),
            _g("wave", school["wave"]),
        ):
            inv.add_child(group(parent), etab)
