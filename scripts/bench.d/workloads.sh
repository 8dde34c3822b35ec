#!/usr/bin/env bash
# `scripts/bench workloads [NAMES...]`: everyday developer work, one hyperfine run per workload with
# the same command bare, under bubblewrap, and under airlock with each backend, then one Markdown
# table of the medians as ratios to bare's from the same run. Usage: workloads.sh AIRLOCK [NAMES...]
# (scripts/bench passes the binary it built, or BENCH_AIRLOCK). NAMES: any of the workloads below,
# all of them by default.
#   untar         tar -xf of 20,000 small files in 2,000 directories (what npm install does)
#   rm            rm -rf of that tree
#   clone         git clone --no-hardlinks of a local repository of 1,000 files and 3 commits
#   build         make -j2 of 240 small C files linked into one program (prepare: make clean)
#   exec          500 execs of /bin/true from a shell loop
#   status-grep   git status, then grep -r, over a clone of that repository
#   pip           pip install --no-index of 16 real wheels (requests, jinja2, rich, setuptools, ...)
#                 into a virtualenv made by the prepare step (python3 -m venv is not measured)
#   node_modules  cp -r of a tree of 30,000 tiny files in nested package directories
# Everything is on a tmpfs (mount -t tmpfs as root, else a directory in /dev/shm), so that a disk
# does not hide what the sandbox costs. Each workload runs in a workspace of its own holding only
# what it works on (airlock looks through its workspace for protected files at every start, as it
# would through a user's project); the inputs are generated beside the workspaces, deterministic,
# before the runs; the wheels are downloaded once into BENCH_WHEELS (/var/tmp/airlock-bench-wheels).
# BENCH_WORKLOAD_RUNS=N timed runs per row (default 5). BENCH_USER=NAME (as root) runs everything as
# that user. BENCH_SMALL=1 divides the counts by 10 and makes 2 runs the default: a quick check that
# every row works.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib/deps.sh"
airlock=$1; shift
all=(untar rm clone build exec status-grep pip node_modules)
if [ $# -gt 0 ]; then
    for name in "$@"; do
        case " ${all[*]} " in *" $name "*) ;; *) echo "workloads: no workload '$name' (${all[*]})" >&2; exit 2 ;; esac
    done
    selected=("$@")
else
    selected=("${all[@]}")
fi
selected_has() { case " ${selected[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

small=${BENCH_SMALL:-}
[ "$small" = 0 ] && small=""
count() { if [ -n "$small" ]; then echo $(( $1 / 10 )); else echo "$1"; fi; }
runs=${BENCH_WORKLOAD_RUNS:-$([ -n "$small" ] && echo 2 || echo 5)}
tree_dirs=$(count 2000); tree_files_per_dir=10
repo_files=$(count 1000)
c_files=$(count 240)
execs=$(count 500)
nm_packages=$(count 300); nm_files_per_package=100
wheels=${BENCH_WHEELS:-/var/tmp/airlock-bench-wheels}
# Real wheels, pinned so that the set (and its ~1,100 files) stays the same from run to run; their
# dependencies are all in the list, so pip resolves them from the directory alone.
wheel_specs=(requests==2.34.2 urllib3==2.8.0 idna==3.20 certifi==2026.10.19.post1
    charset-normalizer==3.5.3 six==1.17.0 packaging==26.4 pyparsing==3.3.3 jinja2==3.1.6
    markupsafe==3.0.4 click==8.5.1 pygments==2.21.0 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2
    setuptools==84.2.1)
# Debian's interpreter, as for the tools' virtualenv (deps.sh): the wheels are picked for it.
python=/usr/bin/python3

# A tmpfs of its own when we may mount one, else a directory in /dev/shm (a tmpfs too, shared
# with the host). Under /dev/shm the inputs are generated inside the workspaces: the namespaces
# backend gives the sandbox a private /dev (and /tmp), so inputs beside them would not be there.
ws=$(mktemp -d /var/tmp/airlock-bench-workloads.XXXXXX)
mounted=""
cleanup() {
    cd /
    if [ -n "$mounted" ]; then umount "$ws" && rmdir "$ws"; else rm -rf "$ws"; fi
}
trap cleanup EXIT
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o mode=0755 tmpfs "$ws" 2>/dev/null; then
    mounted=1
else
    rmdir "$ws"
    ws=$(mktemp -d /dev/shm/airlock-bench-workloads.XXXXXX)
    echo "workloads: cannot mount a tmpfs (not root, or not allowed): the workspace is $ws" >&2
fi
cd "$ws"
fx="$ws/fixtures"    # the inputs, generated once
out="$ws/results"    # hyperfine's JSON, written outside the sandboxes
[ -n "$mounted" ] || fx="$ws/w/fixtures"
mkdir -p "$fx" "$out" "$ws/w"
# The workspace of workload $1 (under /dev/shm, one for all, holding the inputs).
wsof() { if [ -n "$mounted" ]; then echo "$ws/w/$1"; else echo "$ws/w"; fi; }
# BENCH_USER=NAME (as root): every row, its preparation and hyperfine itself run as that user, as
# on a workstation (tar, for one, restores owners and modes only as root).
as_user=() user_ids=""
if [ -n "${BENCH_USER:-}" ]; then
    user_ids="$(id -u "$BENCH_USER"):$(id -g "$BENCH_USER")"
    mkdir -p "$ws/home"
    chown "$user_ids" "$ws/home"
    as_user=(setpriv --reuid "$(id -u "$BENCH_USER")" --regid "$(id -g "$BENCH_USER")" --clear-groups env "HOME=$ws/home")
fi
echo "workloads: workspace $ws (tmpfs), $runs runs per row${small:+, small counts}${BENCH_USER:+, as $BENCH_USER}; airlock is $airlock"

# --- Inputs -----------------------------------------------------------------------------------
# Deterministic contents and timestamps: the same files, byte for byte, on every run.

if selected_has untar || selected_has rm; then
    # tree.tar: tree/dNNNN/fNN.txt, 100 to 1,100 bytes each, written by Python's tarfile directly
    # (no intermediate tree to write and delete).
    "$python" - "$fx/tree.tar" "$tree_dirs" "$tree_files_per_dir" <<'PY'
import io, sys, tarfile
path, dirs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def info(name, kind, size=0):
    t = tarfile.TarInfo(name); t.type = kind; t.size = size; t.mtime = 1700000000
    t.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644; t.uname = t.gname = "root"
    return t
with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
    tar.addfile(info("tree", tarfile.DIRTYPE))
    for d in range(dirs):
        tar.addfile(info(f"tree/d{d:04}", tarfile.DIRTYPE))
        for f in range(per):
            line = f"d{d:04}/f{f:02} lorem ipsum dolor sit amet\n".encode()
            data = (line * 40)[: 100 + (d * 37 + f * 101) % 1000]
            tar.addfile(info(f"tree/d{d:04}/f{f:02}.txt", tarfile.REGTYPE, len(data)), io.BytesIO(data))
PY
fi

if selected_has clone || selected_has status-grep; then
    # repo: a Python-looking project in 40 packages, committed in three steps (80% of the files,
    # then edits and additions twice), with a TODO in every seventh file for grep to find.
    gen_files() {  # gen_files DIR FIRST LAST REVISION
        "$python" - "$@" <<'PY'
import os, sys
top, first, last, rev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(first, last):
    d = os.path.join(top, f"pkg{i % 40:02}")
    os.makedirs(d, exist_ok=True)
    lines = [f'"""Module {i}, revision {rev}."""\n', "import os\n\n"]
    for fn in range(3 + i % 5):
        lines.append(f"def f{i}_{fn}(x):\n    return x * {fn + 1} + {i} + {rev}\n\n")
    if i % 7 == 0:
        lines.append(f"# TODO: module {i} needs a test\n")
    with open(os.path.join(d, f"mod{i:04}.py"), "w") as f:
        f.writelines(lines)
PY
    }
    git_commit() {
        GIT_AUTHOR_DATE="@1700000000 +0000" GIT_COMMITTER_DATE="@1700000000 +0000" \
            git -C "$fx/repo" -c user.name=bench -c user.email=bench@example.invalid \
            commit -q -m "$1"
    }
    git init -q -b main "$fx/repo"
    n=$repo_files
    gen_files "$fx/repo" 0 $(( n * 8 / 10 )) 1
    git -C "$fx/repo" add -A && git_commit "first"
    gen_files "$fx/repo" 0 $(( n / 10 )) 2
    gen_files "$fx/repo" $(( n * 8 / 10 )) $(( n * 9 / 10 )) 2
    git -C "$fx/repo" add -A && git_commit "second"
    gen_files "$fx/repo" $(( n / 10 )) $(( n * 15 / 100 )) 3
    gen_files "$fx/repo" $(( n * 9 / 10 )) "$n" 3
    git -C "$fx/repo" add -A && git_commit "third"
    # status-grep's own clone, in the workspace like an agent's checkout.
    if selected_has status-grep; then git clone -q --no-hardlinks "$fx/repo" "$(wsof status-grep)/checkout"; fi
fi

if selected_has build; then
    # build/: uNNN.c with four small functions each, main.c calling one of every file, a Makefile.
    "$python" - "$(wsof build)" "$c_files" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
os.makedirs(top, exist_ok=True)
for i in range(n):
    with open(os.path.join(top, f"u{i:03}.c"), "w") as f:
        f.write("#include <string.h>\n")
        f.write(f"static int g{i}(int x) {{ int s = 0; for (int k = 0; k < x; k++) s += k * {i + 1}; return s; }}\n")
        f.write(f"static unsigned h{i}(const char *p) {{ unsigned h = {i}; while (*p) h = h * 31 + (unsigned char)*p++; return h; }}\n")
        f.write(f"static int c{i}(const char *p) {{ return (int)strlen(p) + {i}; }}\n")
        f.write(f"int u{i}(int x) {{ return g{i}(x) + (int)(h{i}(\"u{i}\") % 1000) + c{i}(\"abc\"); }}\n")
with open(os.path.join(top, "main.c"), "w") as f:
    f.write("#include <stdio.h>\n")
    f.writelines(f"int u{i}(int);\n" for i in range(n))
    f.write("int main(void) {\n    long s = 0;\n")
    f.writelines(f"    s += u{i}({i % 10});\n" for i in range(n))
    f.write('    printf("%ld\\n", s);\n    return 0;\n}\n')
with open(os.path.join(top, "Makefile"), "w") as f:
    f.write("CFLAGS = -O2\nOBJS = $(patsubst %.c,%.o,$(sort $(wildcard *.c)))\n\n"
            "prog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n"
            "%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n"
            "clean:\n\trm -f $(OBJS) prog\n")
PY
fi

if selected_has node_modules; then
    # node_modules: pkg-NNN/{package.json,README.md,index.js,lib/aA/bB/mM.js}, 100 files a package,
    # tens of bytes to a few hundred each.
    "$python" - "$fx/node_modules" "$nm_packages" "$nm_files_per_package" <<'PY'
import os, sys
top, packages, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for p in range(packages):
    base = os.path.join(top, f"pkg-{p:03}")
    os.makedirs(base)
    with open(os.path.join(base, "package.json"), "w") as f:
        f.write(f'{{"name": "pkg-{p:03}", "version": "1.0.{p}", "main": "index.js"}}\n')
    with open(os.path.join(base, "README.md"), "w") as f:
        f.write(f"# pkg-{p:03}\n\nA package.\n")
    with open(os.path.join(base, "index.js"), "w") as f:
        f.write(f"module.exports = require('./lib/a0/b0/m0.js');\n")
    for m in range(per - 3):
        d = os.path.join(base, "lib", f"a{m % 4}", f"b{m % 3}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"m{m}.js"), "w") as f:
            f.write(f"'use strict';\nmodule.exports = function m{m}(x) {{ return x + {p * per + m}; }};\n" * (1 + m % 4))
PY
fi

pip_ok=""
if selected_has pip; then
    # Downloaded once, with the tools' virtualenv's pip (the same interpreter as the benchmark's
    # virtualenvs); a marker file says the set is complete.
    marker="$wheels/.complete-$(printf '%s\n' "${wheel_specs[@]}" | sha256sum | cut -c1-12)"
    if [ ! -f "$marker" ]; then
        ensure_python_tools
        if mkdir -p "$wheels" && "$(airlock_venv)/bin/python" -m pip download -q --disable-pip-version-check \
                --only-binary=:all: -d "$wheels" "${wheel_specs[@]}" >&2; then
            touch "$marker"
        fi
    fi
    if [ -f "$marker" ]; then
        pip_ok=1
    else
        echo "workloads: SKIPPING pip: could not download the wheels into $wheels (pip download failed)" >&2
    fi
fi

# --- The runs ---------------------------------------------------------------------------------
# Each row runs `sh -c CMD` in the workspace, CMD in single quotes (so CMD has none): bare, under
# bubblewrap with an equivalent view (host read-only, the workspace writable, a private /tmp as
# airlock gives, every namespace unshared), and under airlock with each backend, its default
# profile otherwise (network through its proxy). PREPARE resets the state bare, outside any sandbox,
# before every run. Before hyperfine, each row is run once by hand and CHECK (bare, afterwards)
# must pass: proof that the sandboxed command did the work rather than failing fast, and a warm-up.

rows() {  # rows CMD: hyperfine's -n NAME COMMAND pairs, run in the workspace $PWD
    printf '%s\0' \
        -n bare "sh -c '$1'" \
        -n bwrap "bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind $PWD $PWD --unshare-all --die-with-parent --chdir $PWD sh -c '$1'" \
        -n 'airlock (namespaces)' "$airlock run --backend namespaces -- sh -c '$1'" \
        -n 'airlock (landlock-only)' "$airlock run --backend landlock -- sh -c '$1'"
}

workload() {  # workload NAME TITLE PREPARE CMD CHECK
    local name=$1 title=$2 prepare=$3 cmd=$4 check=$5 row i
    echo
    echo "## $name: $title"
    mkdir -p "$(wsof "$name")"
    cd "$(wsof "$name")"
    mapfile -d '' row < <(rows "$cmd")
    [ ${#as_user[@]} -eq 0 ] || chown -R "$user_ids" "$ws/w" "$out"
    for (( i = 0; i < ${#row[@]}; i += 3 )); do
        "${as_user[@]}" sh -c "$prepare"
        # hyperfine -N splits the command like a shell; eval does the same with these quotes.
        if ! eval "${as_user[*]} ${row[i+2]}" >"$out/$name.log" 2>&1 || ! sh -c "$check" >>"$out/$name.log" 2>&1; then
            echo "workloads: $name failed under '${row[i+1]}':" >&2
            cat "$out/$name.log" >&2
            exit 1
        fi
    done
    "${as_user[@]}" hyperfine -N --runs "$runs" --export-json "$out/$name.json" --prepare "sh -c '$prepare'" "${row[@]}"
}

for name in "${selected[@]}"; do
    case "$name" in
    untar)
        workload untar "tar -xf of $(( tree_dirs * tree_files_per_dir )) files in $tree_dirs directories" \
            'rm -rf tree' \
            "tar -xf $fx/tree.tar" \
            "test \$(find tree -type f | wc -l) -eq $(( tree_dirs * tree_files_per_dir ))" ;;
    rm)
        workload rm "rm -rf of $(( tree_dirs * tree_files_per_dir )) files in $tree_dirs directories" \
            "rm -rf tree && tar -xf $fx/tree.tar" \
            'rm -rf tree' \
            'test ! -e tree' ;;
    clone)
        workload clone "git clone --no-hardlinks of $repo_files files, 3 commits" \
            'rm -rf clone' \
            "git clone -q --no-hardlinks $fx/repo clone" \
            "test \$(git -C clone rev-list --count HEAD) -eq 3 && test \$(git -C clone ls-files | wc -l) -eq $repo_files" ;;
    build)
        workload build "make -j2 of $c_files C files and a link" \
            'make -s clean' \
            'make -s -j2' \
            './prog >/dev/null' ;;
    exec)
        workload exec "$execs execs of /bin/true from a shell loop" \
            'true' \
            "for i in \$(seq $execs); do /bin/true; done" \
            'true' ;;
    status-grep)
        # grep exits 1 when it finds nothing, so a passing run did search.
        workload status-grep "git status and grep -r TODO over a $repo_files-file checkout" \
            'true' \
            'cd checkout && git status --porcelain >/dev/null && grep -r TODO . >/dev/null' \
            'test -z "$(git -C checkout status --porcelain)"' ;;
    pip)
        if [ -z "$pip_ok" ]; then continue; fi
        # Only the install is timed; the virtualenv (and its own pip) is made by the prepare step.
        # No cache: the home directory is read-only in the sandboxes.
        workload pip "pip install --no-index of ${#wheel_specs[@]} wheels into a fresh virtualenv" \
            "rm -rf venv && $python -m venv venv" \
            "venv/bin/pip install -q --disable-pip-version-check --no-cache-dir --no-index --find-links $wheels ${wheel_specs[*]}" \
            'venv/bin/python -c "import requests, jinja2, click, rich, setuptools"' ;;
    node_modules)
        workload node_modules "cp -r of $(( nm_packages * nm_files_per_package )) tiny files in nested directories" \
            'rm -rf node_modules' \
            "cp -r $fx/node_modules node_modules" \
            "test \$(find node_modules -type f | wc -l) -eq $(( nm_packages * nm_files_per_package ))" ;;
    esac
done

# --- Summary ----------------------------------------------------------------------------------
echo
echo "## Summary: medians, each sandbox as a multiple of bare's in the same hyperfine run"
echo
python3 - "$out" "${selected[@]}" <<'PY'
import json, os, sys
out, names = sys.argv[1], sys.argv[2:]
cols = ["bwrap", "airlock (namespaces)", "airlock (landlock-only)"]
print("| workload | bare (ms) | bwrap × | airlock namespaces × | airlock landlock × |")
print("|---|--:|--:|--:|--:|")
for name in names:
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        print(f"| {name} | skipped | | | |")
        continue
    median = {r["command"]: r["median"] for r in json.load(open(path))["results"]}
    bare = median["bare"]
    print(f"| {name} | {bare * 1000:.0f} | " + " | ".join(f"{median[c] / bare:.2f}" for c in cols) + " |")
PY
