# Copyright: socle contributors. GNU General Public License v3.0+ (same as containers.podman)
"""Pipelined variant of containers.podman.podman.

The upstream plugin runs ``podman exec`` without ``-i``: stdin never reaches the container,
so it cannot pipeline and every task costs ~5 podman calls. Measured on the CI machine
(20 containers, ../shared/toolchain-notes.md §7): this variant halves the wall time.
"""

from __future__ import annotations

DOCUMENTATION = """
    name: podman_pipe
    short_description: Run tasks in an existing podman container, with pipelining
    description:
        - Same as containers.podman.podman, but passes stdin to C(podman exec -i) so that
          Ansible pipelining works (one podman call per task instead of about five).
    author: socle contributors
    options:
      remote_addr:
        description:
          - The ID of the container you want to access.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description:
          - User to run commands as inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description:
          - Extra arguments to pass to the podman command line.
        default: ''
        ini:
          - section: defaults
            key: podman_extra_args
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description:
          - Executable for podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description:
          - Pipeline module execution through stdin of C(podman exec -i).
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
"""

import shlex

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


_NOT_RUNNING = (b"container state improper", b"no such container", b"can only create exec sessions on running")


class Connection(PodmanConnection):
    transport = "podman_pipe"
    has_pipelining = True

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec"]
        if in_data is not None:
            args.append("-i")
        if self.user:
            args.extend(("--user", self.user))
        rc, stdout, stderr = self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
        if rc != 0 and any(m in stderr for m in _NOT_RUNNING):
            # a stopped or missing container is an unreachable host, not a failed task
            raise AnsibleConnectionFailure(f"container {self._container_id} is not running: {to_native(stderr).strip()}")
        return rc, stdout, stderr
