#!/usr/bin/env bash
# Renders the README's examples from the shared reference images and
# assembles them into labelled contact sheets (ImageMagick montage):
#
#   docs/examples/sheet.jpg     style transfer, mixing, morphing, colour,
#                               textures (the README shows it)
#   docs/examples/networks.jpg  the same transfer over each feature network
#                               that is on disk
#
# Every render is a JPEG in docs/examples/ with its settings in the file
# (`atelier stylize --from FILE` reruns it). A render that is already there
# is kept, so rerunning only reassembles the sheets; FORCE=1 renders
# everything again. The renders run under `nice`: the machine may be shared.
#
# Environment: ATELIER (the binary, default bin/atelier), IMAGES (default
# ../shared/images, else $ATELIER_SHARED/images), OUT (default
# docs/examples), SIZE (default 512), ITERS (stylize iterations over all
# scales, default 160), TEX_ITERS (Gram texture iterations, default 150),
# NETWORK (the sheet's feature network, default resnet50), FORCE, ONLY
# (render only these panels, named without .jpg, and assemble nothing: for
# rendering in parallel, or again after a change).
set -euo pipefail

cd "$(dirname "$0")/.."
ATELIER=${ATELIER:-bin/atelier}
IMAGES=${IMAGES:-${ATELIER_SHARED:-../shared}/images}
OUT=${OUT:-docs/examples}
SIZE=${SIZE:-512}
ITERS=${ITERS:-160}
TEX_ITERS=${TEX_ITERS:-150}
NETWORK=${NETWORK:-resnet50}
FORCE=${FORCE:-}
ONLY=${ONLY:-}
NICE=(nice -n 10)

die() { echo "examples: $*" >&2; exit 1; }
[[ -x $ATELIER ]] || die "no atelier binary at $ATELIER (run make build, or set ATELIER)"
[[ -d $IMAGES/content && -d $IMAGES/style ]] || die "no reference images in $IMAGES (set IMAGES or ATELIER_SHARED)"
command -v montage >/dev/null || die "ImageMagick's montage is missing (make deps installs it)"
mkdir -p "$OUT"

C=$IMAGES/content
S=$IMAGES/style

# fresh FILE: whether FILE must be rendered (missing, or FORCE set; with
# ONLY, only the panels it names).
fresh() {
	if [[ -n $ONLY ]]; then
		local name
		name=$(basename "$1" .jpg)
		[[ " $ONLY " == *" $name "* ]] || return 1
	fi
	[[ -n $FORCE || ! -s $1 ]]
}

# stylize OUT ARGS...: one style transfer at $SIZE px, written atomically
# (a cancelled run leaves no half-finished panel behind).
stylize() {
	local out=$OUT/$1
	shift
	fresh "$out" || { [[ -n $ONLY ]] || echo "keeping $out"; return; }
	echo "rendering $out"
	local tmp=$OUT/.tmp-$$-$(basename "$out")
	"${NICE[@]}" "$ATELIER" stylize --size "$SIZE" --iters "$ITERS" --out "$tmp" --force "$@" >/dev/null
	mv -f "$tmp" "$out"
}

# texture OUT ARGS...: one texture, written atomically.
texture() {
	local out=$OUT/$1
	shift
	fresh "$out" || { [[ -n $ONLY ]] || echo "keeping $out"; return; }
	echo "rendering $out"
	local tmp=$OUT/.tmp-$$-$(basename "$out")
	"${NICE[@]}" "$ATELIER" texture --seed 1 --out "$tmp" --force "$@" >/dev/null
	mv -f "$tmp" "$out"
}
trap 'rm -f "$OUT"/.tmp-$$-*' EXIT

net=(--network "$NETWORK")
stylize tubingen-starry.jpg "${net[@]}" --content "$C/tubingen.jpg" --style "$S/starry_night.jpg"
stylize golden_gate-scream.jpg "${net[@]}" --content "$C/golden_gate.jpg" --style "$S/the_scream.jpg"
stylize mix.jpg "${net[@]}" --content "$C/golden_gate.jpg" \
	--style "$S/starry_night.jpg:0.5" --style "$S/woman-with-hat-matisse.jpg:0.5"
for t in 0 0.5 1; do
	stylize "morph-$t.jpg" "${net[@]}" --content "$C/tubingen.jpg" \
		--style "$S/shipwreck.jpg" --morph-to "$S/woman-with-hat-matisse.jpg" --morph "$t"
done
stylize preserve.jpg "${net[@]}" --content "$C/hoovertowernight.jpg" --style "$S/starry_night.jpg" --preserve-colors

texture texture-gram.jpg --sample "$S/starry_night_crop.png" --method gram --iters "$TEX_ITERS" --size "${SIZE}x${SIZE}"
texture texture-patch.jpg --sample "$S/starry_night_crop.png" --method patch --size "${SIZE}x${SIZE}"
half=$((SIZE / 2))
texture tile.jpg --sample "$S/shipwreck.jpg" --method gram --iters "$TEX_ITERS" --tileable --size "${half}x${half}"

# The partial VGG19 of the shared folder for the networks sheet:
# ATELIER_MODELS pointed at an empty folder hides a downloaded full VGG19.
empty=$(mktemp -d)
trap 'rm -f "$OUT"/.tmp-$$-*; rm -rf "$empty"' EXIT
ATELIER_MODELS=$empty stylize net-vgg19-partial.jpg --network vgg19 --content "$C/tubingen.jpg" --style "$S/starry_night.jpg"

# The feature networks side by side: the partial VGG19, ResNet-50, and the
# full VGG19 when it is downloaded.
if [[ $NETWORK == resnet50 ]]; then
	resnet=$OUT/tubingen-starry.jpg # the same render
else
	resnet=$OUT/net-resnet50.jpg
	stylize net-resnet50.jpg --network resnet50 --content "$C/tubingen.jpg" --style "$S/starry_night.jpg"
fi
panels=("$OUT/net-vgg19-partial.jpg" "$resnet")
labels=("partial VGG19 (relu1_1..relu3_1)" "ResNet-50 + SWAG softmax")
if "$ATELIER" models list 2>/dev/null | grep -Eq '^vgg19-full +.* (verified|present)'; then
	stylize net-vgg19-full.jpg --network vgg19 --content "$C/tubingen.jpg" --style "$S/starry_night.jpg"
	panels+=("$OUT/net-vgg19-full.jpg")
	labels+=("full VGG19")
else
	[[ -n $ONLY ]] || echo "vgg19-full is not downloaded: the networks sheet has no full-VGG19 panel"
fi

if [[ -n $ONLY ]]; then
	exit 0
fi

# Labelled sheets. DejaVu Sans when installed, else ImageMagick's default.
font=()
for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/dejavu/DejaVuSans.ttf; do
	[[ -f $f ]] && { font=(-font "$f"); break; }
done
tmpdir=$(mktemp -d)
trap 'rm -f "$OUT"/.tmp-$$-*; rm -rf "$empty" "$tmpdir"' EXIT
montage "$OUT/tile.jpg" "$OUT/tile.jpg" "$OUT/tile.jpg" "$OUT/tile.jpg" -tile 2x2 -geometry +0+0 "$tmpdir/tile2x2.png"

# Four columns: the transfers, the morph, the textures ("null:" leaves a
# cell empty).
sheet=(
	"$OUT/tubingen-starry.jpg" "tubingen x starry_night"
	"$OUT/golden_gate-scream.jpg" "golden_gate x the_scream"
	"$OUT/mix.jpg" "50/50 mix: starry_night + Matisse"
	"$OUT/preserve.jpg" "starry_night, colours preserved"
	"$OUT/morph-0.jpg" "morph 0 (shipwreck)"
	"$OUT/morph-0.5.jpg" "morph 0.5"
	"$OUT/morph-1.jpg" "morph 1 (Matisse)"
	null: ""
	"$OUT/texture-gram.jpg" "texture: Gram (neural)"
	"$OUT/texture-patch.jpg" "texture: patch"
	"$tmpdir/tile2x2.png" "tileable texture, 2x2"
	null: ""
)
args=()
for ((i = 0; i < ${#sheet[@]}; i += 2)); do
	args+=(-label "${sheet[i + 1]}" "${sheet[i]}")
done
montage "${font[@]}" -pointsize 15 "${args[@]}" -tile 4x -geometry '384x288>+6+6' \
	-background white "$tmpdir/sheet.png"
convert "$tmpdir/sheet.png" -strip -quality 90 "$OUT/sheet.jpg"

args=()
for i in "${!panels[@]}"; do
	args+=(-label "${labels[i]}" "${panels[i]}")
done
montage "${font[@]}" -pointsize 16 "${args[@]}" -tile "${#panels[@]}x1" -geometry '512x384>+6+6' \
	-background white "$tmpdir/networks.png"
convert "$tmpdir/networks.png" -strip -quality 90 "$OUT/networks.jpg"
echo "wrote $OUT/sheet.jpg and $OUT/networks.jpg"
