#!/bin/sh
# socle's bootstrap: on a fresh Debian 12 or 13 with nothing but git, `./socle.sh <task> [options]`
# is all it takes. It installs Python's venv support (as root; otherwise it prints the command),
# creates .venv, installs socle into it (with testinfra for `build-master`, the test tools for `test`
# and `lint`), then runs `socle <task>`. The tasks set this host up themselves when they need it
# (podman, mmdebstrap…).
# Run it again at any time: each step is done once, and again only when pyproject.toml changes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# pip trusts the system's CA store (where a site adds its TLS proxy's CA), not only its own bundle
if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi

say() { printf 'socle.sh: %s\n' "$*" >&2; }

# the task is the first argument that is not an option: test and lint need the test tools, a build
# the verification's (testinfra); other tasks need socle alone
task=""
for arg in "$@"; do
    case "$arg" in -*) ;; *) task=$arg; break ;; esac
done
case "$task" in
test | lint) extra="[test]" ;;
build-master) extra="[verify]" ;;
*) extra="" ;;
esac

# 1. Python 3.11 to 3.13 with venv (Debian 12: 3.11, Debian 13: 3.13)
python_ok() {
    command -v python3 >/dev/null 2>&1 &&
        python3 -c 'import sys, ensurepip, venv; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null
}
if [ ! -x "$venv/bin/python" ] && ! python_ok; then
    if command -v python3 >/dev/null 2>&1 &&
        ! python3 -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'; then
        say "socle needs Python 3.11 to 3.13; python3 here is $(python3 -V 2>&1)"
        say "hint: use Debian 12 or 13, whose python3 is 3.11 or 3.13"
        exit 2
    fi
    if [ "$(id -u)" != 0 ]; then
        say "Python's venv support is missing"
        say "hint: run once as root: apt-get install -y python3 python3-venv (or: sudo ./socle.sh $*)"
        exit 2
    fi
    say "installing python3 and python3-venv (Debian packages, once)"
    apt-get update -qq
    apt-get install -y -qq python3 python3-venv >/dev/null
fi

# 2. .venv with socle, installed again when pyproject.toml changes; extras, once there, stay
# ([test] holds [verify])
stamp="$venv/.socle-installed"
hash=$(sha256sum "$here/pyproject.toml" | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
case "$have" in
"$hash[test]") extra="[test]" ;;
"$hash[verify]") [ "$extra" = "[test]" ] || extra="[verify]" ;;
esac
if [ "$have" != "$hash$extra" ]; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    say "installing socle$extra into .venv (a few minutes the first time)"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$here$extra"
    printf '%s\n' "$hash$extra" >"$stamp"
fi

# 3. the task; under sudo, what the run created in the checkout goes back to its owner
set +e
"$venv/bin/socle" "$@"
rc=$?
set -e
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_UID:-}" ] && [ "$(stat -c %u "$here")" = "$SUDO_UID" ]; then
    for d in "$venv" "$here/.cache"; do
        if [ -d "$d" ]; then find "$d" -uid 0 -exec chown -h "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} +; fi
    done
fi
exit "$rc"
