#!/usr/bin/env bash
# Renders a report's report.html in headless Chromium (Debian's `chromium`) to a PNG, to check how it
# reads in a browser: scripts/dev/screenshot-report.sh results/paper-fmnist/report [out.png] [height].
set -euo pipefail
report_dir="$(cd "${1:?usage: screenshot-report.sh REPORT_DIR [OUT.png] [HEIGHT]}" && pwd)"
out="${2:-$report_dir/screenshot.png}"
height="${3:-4000}"
command -v chromium >/dev/null || { echo "screenshot-report: needs Debian's chromium (apt-get install chromium)" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="1280,$height" \
  --screenshot="$out" "file://$report_dir/report.html" 2>/dev/null
echo "screenshot: $out"
