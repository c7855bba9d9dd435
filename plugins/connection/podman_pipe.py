# Copyright: socle contributors. GNU General Public License v3.0+ (same as containers.podman)
"""Pipelined variant of containers.podman.podman, entering the container's namespaces directly.

The upstream plugin runs ``podman exec`` without ``-i``: stdin never reaches the container,
so it cannot pipeline and every task costs ~5 podman calls. Measured on the CI machine
(20 containers, ../shared/toolchain-notes.md §7): pipelining halves the wall time.

Each ``podman exec`` still costs about 165 ms here (podman, conmon and runc start for every
command), and a ``copy`` or ``template`` task runs five commands. Root on the container's own host
(rootful podman) enters the namespaces of the container's first process with ``nsenter`` instead:
about 20 ms, with the container's root, working folder, environment and capabilities (setpriv
drops the host's others before the command starts). The process is checked before each command
(its start time and mount namespace) so that a container stopped meanwhile is never mistaken for
another process; anything else (another user, extra podman arguments, no
``nsenter``) goes through ``podman exec`` as before.
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
      nsenter:
        description:
          - Enter the container's namespaces with C(nsenter) when running as root with rootful
            podman, instead of one C(podman exec) per command.
        type: boolean
        default: true
        vars:
          - name: ansible_podman_nsenter
        env:
          - name: ANSIBLE_PODMAN_NSENTER
      pipelining:
        description:
          - Pipeline module execution through stdin of C(podman exec -i).
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
"""

import json
import os
import shlex
import shutil
import subprocess

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ensure_connect
from ansible.utils.display import Display
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


_NOT_RUNNING = (b"container state improper", b"no such container", b"can only create exec sessions on running")
_ROOT = (None, "", "root", "0")
display = Display()


def _identity(pid):
    """What tells the container's first process from a later one with the same number: its start
    time and its mount namespace (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            started = fh.read().rsplit(")", 1)[1].split()[19]
        return started, os.readlink(f"/proc/{pid}/ns/mnt")
    except (OSError, IndexError):
        return None


class _Target:
    """The container's first process, its environment, capabilities and identity when first seen."""

    def __init__(self, nsenter, pid, env, caps):
        self.nsenter, self.pid, self.env, self.identity = nsenter, pid, env, _identity(pid)
        # setpriv (util-linux, in every Debian system) runs in the container: the command keeps only
        # the capabilities podman gave the container, not the host's
        bounding = ",".join(["-all"] + [f"+{c.lower().removeprefix('cap_')}" for c in caps])
        self.drop = ["setpriv", "--inh-caps=-all", f"--bounding-set={bounding}", "--"]

    def current(self):
        return _identity(self.pid) == self.identity


class Connection(PodmanConnection):
    transport = "podman_pipe"
    has_pipelining = True

    _target = None

    def _connect(self):
        super()._connect()
        self._target = self._find_target()
        return self

    def _find_target(self):
        """The container's first process when commands may enter its namespaces (else None)."""
        nsenter = shutil.which("nsenter")
        if not (self.get_option("nsenter") and nsenter and os.geteuid() == 0 and self.user in _ROOT) \
                or self.get_option("podman_extra_args"):  # fmt: skip
            return None
        rc, stdout, _ = self._podman("inspect", ["--format", "json"])
        try:
            info = json.loads(stdout)[0] if rc == 0 else {}
        except (ValueError, IndexError):
            return None
        state, config = info.get("State", {}), info.get("Config", {})
        if not state.get("Running") or not state.get("Pid") or state.get("Rootless") \
                or not os.path.exists(f"/proc/{state['Pid']}/root/usr/bin/setpriv"):  # fmt: skip
            return None
        # what ``podman exec`` gives a command: the container's environment, never the controller's
        env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
        env.pop("HOSTNAME", None)
        env.setdefault("HOME", "/root")
        target = _Target(nsenter, int(state["Pid"]), env, info.get("BoundingCaps") or [])
        return target if target.identity else None

    def _nsenter(self, cmd, in_data):
        argv = [self._target.nsenter, "--target", str(self._target.pid), "--all", "--root", "--wd", *self._target.drop,
                *shlex.split(cmd)]  # fmt: skip
        display.vvv(f"NSENTER {argv}", host=self._container_id)
        proc = subprocess.run(argv, input=in_data, stdin=None if in_data is not None else subprocess.DEVNULL,
                              capture_output=True, env=self._target.env, check=False)  # fmt: skip
        return proc.returncode, proc.stdout, proc.stderr

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        command = to_native(cmd, errors="surrogate_or_strict")
        if self._target is not None and not self._target.current():
            self._target = self._find_target()  # restarted: its new first process; stopped: podman exec
        if self._target is not None:
            return self._nsenter(command, in_data)
        args = ["exec"]
        if in_data is not None:
            args.append("-i")
        if self.user:
            args.extend(("--user", self.user))
        rc, stdout, stderr = self._podman(args, shlex.split(command), in_data)
        if rc != 0 and any(m in stderr for m in _NOT_RUNNING):
            # a stopped or missing container is an unreachable host, not a failed task
            raise AnsibleConnectionFailure(f"container {self._container_id} is not running: {to_native(stderr).strip()}")
        return rc, stdout, stderr
