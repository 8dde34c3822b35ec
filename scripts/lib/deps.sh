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
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "scripts: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
