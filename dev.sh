#!/usr/bin/env bash
# Set up this checkout on a fresh machine and run one job:
#   ./dev.sh demo   set up, then sample a small Boltzmann machine on the golden device (plots in out/demo)
#   ./dev.sh test   set up with the test tools, then run the whole test suite
#   ./dev.sh setup  only set up (.venv with the project installed in editable mode)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

need_root_apt() {  # install Debian packages when they are missing (root only; others get a message)
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian packages: ${missing[*]}" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "please install these Debian packages first: ${missing[*]}" >&2
        exit 1
    fi
}

setup() {  # $1: pip extras, e.g. "[test]"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV" 2>/dev/null || { need_root_apt python3-venv; "$PYTHON" -m venv "$VENV"; }
    fi
    local log="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && "$VENV/bin/python" -m pip install -q -e ".$1"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "setup failed; the whole log is in $log" >&2
        exit 1
    fi
}

case "${1:-}" in
    demo)
        setup ""
        "$VENV/bin/lifstp" demo --out out/demo
        ;;
    test)
        # The FPGA programmer needs libusb and libftdi; Icarus Verilog is the second RTL simulator.
        need_root_apt libusb-1.0-0 libftdi1-2 iverilog
        setup "[test]"
        shift
        "$VENV/bin/python" -m pytest "$@"
        ;;
    setup)
        setup "[test]"
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | setup" >&2
        exit 2
        ;;
esac
