#!/usr/bin/env bash
# Side-by-side crops of every x4 upscaler on test images the methods never
# trained on (CSet14), for the README:
#
#   docs/examples/sr-crops.png   one row per image: bicubic, srcnn, pixel,
#                                perceptual, esrgan-thick, and the original
#
# Each image is first shrunk 4x (ImageMagick, Catmull-Rom, as close to the
# evaluation's bicubic downscale as ImageMagick gets), then enlarged back by
# `atelier upscale` with each method; the same region is cut from every
# result and shown at 2x (nearest neighbour, so the pixels stay visible).
# A method whose model is not downloaded gets a grey panel and a notice.
#
# Environment: ATELIER (default bin/atelier), SR (default ../shared/sr, else
# $ATELIER_SHARED/sr), OUT (default docs/examples).
set -euo pipefail

cd "$(dirname "$0")/.."
ATELIER=${ATELIER:-bin/atelier}
SR=${SR:-${ATELIER_SHARED:-../shared}/sr}
OUT=${OUT:-docs/examples}

die() { echo "sr-crops: $*" >&2; exit 1; }
[[ -x $ATELIER ]] || die "no atelier binary at $ATELIER (run make build, or set ATELIER)"
[[ -d $SR/CSet14 ]] || die "no CSet14 in $SR (set SR or ATELIER_SHARED)"
command -v montage >/dev/null || die "ImageMagick's montage is missing (make deps installs it)"
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

methods=(bicubic srcnn pixel perceptual esrgan-thick)
# image:crop (WxH+X+Y in the original's pixels; multiples of 4)
crops=(baboon.png:128x96+300+36 comic.png:128x96+56+32 zebra.png:128x96+244+160)

tiles=()
for entry in "${crops[@]}"; do
	name=${entry%%:*}
	geom=${entry#*:}
	stem=${name%.png}
	hr=$work/$stem-hr.png
	lr=$work/$stem-lr.png
	# Crop the original to a multiple of 4 first, as sr-eval does.
	read -r w h < <(identify -format '%w %h\n' "$SR/CSet14/$name")
	convert "$SR/CSet14/$name" -crop "$((w / 4 * 4))x$((h / 4 * 4))+0+0" +repage "$hr"
	convert "$hr" -filter Catrom -resize 25% "$lr"
	for m in "${methods[@]}"; do
		out=$work/$stem-$m.png
		if ! nice -n 10 "$ATELIER" upscale --method "$m" --scale 4 --force "$lr" "$out" >"$work/log" 2>&1; then
			echo "sr-crops: $m left out: $(tail -n 1 "$work/log")" >&2
			size=${geom%%+*}
			convert -size "$((${size%x*} * 2))x$((${size#*x} * 2))" xc:gray80 "$work/$stem-$m-crop.png"
			tiles+=(-label "$m (not here)" "$work/$stem-$m-crop.png")
			continue
		fi
		convert "$out" -crop "$geom" +repage -filter point -resize 200% "$work/$stem-$m-crop.png"
		tiles+=(-label "$m" "$work/$stem-$m-crop.png")
	done
	convert "$hr" -crop "$geom" +repage -filter point -resize 200% "$work/$stem-orig-crop.png"
	tiles+=(-label "original" "$work/$stem-orig-crop.png")
done

font=()
for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/dejavu/DejaVuSans.ttf; do
	[[ -f $f ]] && { font=(-font "$f"); break; }
done
montage "${font[@]}" "${tiles[@]}" -tile "$((${#methods[@]} + 1))x" -geometry +4+4 -pointsize 16 \
	-background white "$work/sheet.png"
mv "$work/sheet.png" "$OUT/sr-crops.png"
echo "sr-crops: wrote $OUT/sr-crops.png"
