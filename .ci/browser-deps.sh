#!/usr/bin/env bash
# What tests/test_notebooks_browser.py needs beyond the dev extras: Debian's chromium (from
# apt, since browser downloads are not reachable from CI) and the pip packages that drive it.
# Without apt (or root) the browser test skips and says why; this script never fails CI.
set -uo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
        echo "browser-deps: installing chromium with apt-get"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
            || echo "browser-deps: apt-get install chromium failed; the browser test will skip"
    else
        echo "browser-deps: no chromium and no apt-get as root; the browser test will skip"
    fi
fi
python -m pip install --quiet "playwright>=1.40" "jupyterlab>=4" \
    || echo "browser-deps: pip install playwright jupyterlab failed; the browser test will skip"
exit 0
