#!/usr/bin/env bash
# Smoke test of the real studio binary under a virtual X server (Xvfb):
# build it, start it, wait for its window, take a screenshot of the screen,
# stop it, and fail when the window never appears or the screenshot is blank.
#
#   scripts/smoke-xvfb.sh [SCREENSHOT]   (default docs/screenshots/studio.png)
#
# When the shared reference images are present ($ATELIER_SHARED, default
# ../shared) the studio starts with two public-domain paintings open, so the
# screenshot shows images; otherwise it shows the empty studio.
set -euo pipefail

if [ "${1:-}" = "--inside-xvfb" ]; then
	# Runs inside xvfb-run: DISPLAY points at the virtual screen.
	shot=$2; log=$3; shift 3
	bin/atelier "$@" >"$log" 2>&1 &
	app=$!
	stop() { kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true; }
	trap stop EXIT
	for _ in $(seq 1 120); do # up to 30 s for the window
		xwininfo -root -tree 2>/dev/null | grep -q '"Atelier"' && break
		kill -0 "$app" 2>/dev/null || { echo "smoke: the studio exited early:" >&2; cat "$log" >&2; exit 1; }
		sleep 0.25
	done
	if ! xwininfo -root -tree | grep -q '"Atelier"'; then
		echo "smoke: no window titled Atelier appeared within 30 s" >&2; cat "$log" >&2; exit 1
	fi
	# Wait for the first frames (and the images) to be drawn: take
	# screenshots until two in a row agree and show more than a few colours.
	prev=""
	for _ in $(seq 1 40); do # up to 20 s
		sleep 0.5
		import -window root "$shot.tmp.png"
		sum=$(md5sum <"$shot.tmp.png")
		colours=$(convert "$shot.tmp.png" -format %k info:)
		if [ "$colours" -gt 16 ] && [ "$sum" = "$prev" ]; then break; fi
		prev=$sum
	done
	kill -0 "$app" 2>/dev/null || { echo "smoke: the studio crashed:" >&2; cat "$log" >&2; exit 1; }
	# The window sits on a black root: crop to it.
	convert "$shot.tmp.png" -trim +repage "$shot"
	rm -f "$shot.tmp.png"
	exit 0
fi

cd "$(dirname "$0")/.."
shot=${1:-docs/screenshots/studio.png}
for tool in xvfb-run xwininfo import convert go; do
	command -v "$tool" >/dev/null || { echo "smoke: $tool is missing (run: make deps)" >&2; exit 1; }
done

go build -o bin/atelier .

shared=${ATELIER_SHARED:-../shared}
args=()
[ -f "$shared/images/style/shipwreck.jpg" ] && args+=(--content "$shared/images/style/shipwreck.jpg")
[ -f "$shared/images/style/starry_night.jpg" ] && args+=(--style "$shared/images/style/starry_night.jpg")

mkdir -p "$(dirname "$shot")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inside-xvfb "$shot" "$log" "${args[@]}"

# Judge the screenshot: a window, not a blank screen.
read -r w h colours < <(convert "$shot" -format '%w %h %k\n' info:)
if [ "$colours" -le 16 ] || [ "$w" -lt 400 ] || [ "$h" -lt 300 ]; then
	echo "smoke: the screenshot looks blank ($w x $h pixels, $colours colours): $shot" >&2
	exit 1
fi
echo "smoke: the studio window came up; screenshot ($w x $h, $colours colours) in $shot"
