#!/usr/bin/python
# Copyright: socle contributors. EUPL-1.2
# Documentation of the PowerShell module win_socle_facts.ps1 (Ansible's convention for Windows modules).

DOCUMENTATION = r"""
module: win_socle_facts
short_description: One-pass conformity snapshot of a socle Windows poste
description:
  - Reads the master identity (C(C:\ProgramData\socle\master.json)), the installed software from the
    Uninstall keys (64- and 32-bit), the effective values of the win_hardening controls (active
    firewall profiles, Defender real-time state, SMBv1 server state, the exported user-rights
    policy as SIDs, and the policy registry values), pending updates from the Windows Update Agent
    (security and critical ones named), the last hotfix date, free disk and the time service.
  - Returns one JSON document shaped like C(socle_facts) (with C(platform=windows)); evaluation
    happens on the controller. Never changes the host.
version_added: "0.1.0"
author: socle contributors
options:
  master_file:
    description: Where the master records its identity.
    type: path
    default: C:\ProgramData\socle\master.json
notes:
  - Supports check mode (it never changes anything).
"""

EXAMPLES = r"""
- name: Collect the conformity snapshot of a Windows poste
  win_socle_facts:
"""

RETURN = r"""
snapshot:
  description: The host's state.
  returned: always
  type: dict
"""
