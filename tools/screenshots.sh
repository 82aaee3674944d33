#!/bin/sh
# screenshots.sh: the docs site as a reader sees it: headless Chromium photographs the index,
# a lesson and an API page of build/docs/html (make docs first). Run by `make screenshots`;
# the pictures go to build/docs/screenshots/.
set -eu
cd "$(dirname "$0")/.."
site=$PWD/build/docs/html
out=build/docs/screenshots
[ -f "$site/index.html" ] || { echo "screenshots: no site: run make docs first" >&2; exit 1; }
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# The flags keep a headless browser quiet on a machine with no network: no updates,
# no sync, no background requests, and a profile of its own that is thrown away.
shoot() {
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" --hide-scrollbars --window-size=1280,"$3" \
		--screenshot="$out/$2.png" "file://$site/$1" >/dev/null 2>&1
	echo "screenshots: $out/$2.png ($1)"
}
shoot index.html index 1400
shoot md_lessons_01_process.html lesson-01 1400
shoot md_lessons_03_pipe.html lesson-03 2400
shoot md_lessons_05_pool.html lesson-05 1400
shoot process_8h.html api-process 1400
