# Installs what building airlock needs from Debian's packages when it is missing.
ensure_build_deps() {
    local missing=()
    pkg-config --exists libseccomp 2>/dev/null || missing+=(libseccomp-dev)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    command -v setpriv >/dev/null || missing+=(util-linux)
    command -v ssh-keygen >/dev/null || missing+=(openssh-client)
    # Real agent harnesses in the hold tests (Python's subprocess, Node's child_process).
    [ -x /usr/bin/python3 ] || missing+=(python3)
    [ -x /usr/bin/node ] || missing+=(nodejs)
    # Go's Kubernetes client, beside the Python one, in the Kubernetes broker's tests.
    command -v kubectl >/dev/null || missing+=(kubernetes-client)
    # The sign-off service's tests: a PostgreSQL server of their own (Debian's, started by the
    # tests' harness as the postgres user), psql, and curl as the API's client.
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
    command -v psql >/dev/null || missing+=(postgresql-client)
    command -v curl >/dev/null || missing+=(curl)
    # The approval page's browser tests (Tests/Browser), driven by Playwright: Debian's Chromium.
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "scripts: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The virtualenv of the Python tools the scripts and tests run: $AIRLOCK_VENV, else
# /var/tmp/airlock-venv-UID. Not in the checkout: the tests run its programs inside sandboxes,
# which get a private /tmp and cannot reach into a home directory of mode 0700, and a checkout may
# be in either.
airlock_venv() {
    echo "${AIRLOCK_VENV:-/var/tmp/airlock-venv-$(id -u)}"
}

# Python tools from PyPI that the scripts run (mitmproxy for `scripts/bench proxy`, the clients of
# the proxy tests), in that virtualenv: `ensure_python_tools NAME==VERSION...` installs those
# missing or at another version. Its programs are in $(airlock_venv)/bin.
ensure_python_tools() {
    local venv
    venv="$(airlock_venv)"
    if [ ! -x "$venv/bin/python" ]; then
        /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || {
            local sudo=""
            [ "$(id -u)" -eq 0 ] || sudo="sudo"
            echo "scripts: installing python3-venv" >&2
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
        }
        /usr/bin/python3 -m venv "$venv"
    fi
    local missing=()
    for spec in "$@"; do
        "$venv/bin/python" - "$spec" 2>/dev/null <<'PY' || missing+=("$spec")
import importlib.metadata, sys
name, _, version = sys.argv[1].partition("==")
name = name.partition("[")[0]  # "moto[server]": the distribution is "moto"
sys.exit(0 if importlib.metadata.version(name) == (version or importlib.metadata.version(name)) else 1)
PY
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "scripts: installing ${missing[*]} into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
}
