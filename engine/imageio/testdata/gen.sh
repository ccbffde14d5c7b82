#!/bin/sh
# Regenerates the ImageMagick-made fixtures in this folder. The tests never
# run this script (nor ImageMagick): the outputs are committed. Made with
# ImageMagick 6.9.11-60 Q16 (libjpeg-turbo 2.1.5, libpng 1.6) on Debian 12.
# Every picture is built from solid 16x16 patches so that JPEG compression
# leaves their centres within a few levels of the values written here.
set -eu
cd "$(dirname "$0")"
IM=${IM:-/usr/bin/convert}

# ycck.jpg: a 32x32 CMYK JPEG. libjpeg stores CMYK input as YCCK (Adobe
# APP14 transform 2, inverted channels), as Photoshop does.
# Patches (C,M,Y,K) 0..255: TL (200,30,0,0) TR (0,180,220,0)
# BL (20,40,60,100) BR (10,0,0,230).
$IM \( -size 16x16 xc:"cmyk(200,30,0,0)" xc:"cmyk(0,180,220,0)" +append \) \
    \( -size 16x16 xc:"cmyk(20,40,60,100)" xc:"cmyk(10,0,0,230)" +append \) -append \
    -colorspace CMYK -sampling-factor 1x1 -quality 95 -strip ycck.jpg

# progressive.jpg: a 32x32 progressive (SOF2) RGB JPEG, 4:2:0.
# Patches (R,G,B): TL (255,0,0) TR (0,255,0) BL (0,0,255) BR (255,255,255).
$IM \( -size 16x16 xc:"rgb(255,0,0)" xc:"rgb(0,255,0)" +append \) \
    \( -size 16x16 xc:"rgb(0,0,255)" xc:"rgb(255,255,255)" +append \) -append \
    -interlace Plane -quality 95 -strip progressive.jpg

# graya.png: a 32x16 8-bit gray+alpha PNG (colour type 4), which Go's
# encoder never writes. Left patch gray 100 opaque, right gray 200 at
# alpha 64.
$IM \( -size 16x16 xc:"graya(100,1)" xc:"graya(200,0.25098)" +append \) \
    -define png:color-type=4 -define png:bit-depth=8 -strip graya.png

# adam7_16.png: a 32x16 16-bit RGB Adam7-interlaced PNG. Left patch
# (0x1234,0x5678,0x9ABC), right (0xFEDC,0x0102,0x8001), as 16-bit values.
$IM -depth 16 \( -size 16x16 xc:"rgb(7.110704%,33.777371%,60.444038%)" xc:"rgb(99.555963%,0.393683%,50.002289%)" +append \) \
    -define png:bit-depth=16 -define png:color-type=2 -interlace PNG -strip adam7_16.png

# shared_reference.json: size and per-channel mean (0..255) of each picture
# in ../shared/images as ImageMagick decodes it, an independent decoder to
# check ours against. Only these numbers are kept, never the pictures.
SHARED=${ATELIER_SHARED:-../../../../shared}
{
  echo "["
  first=1
  for f in "$SHARED"/images/content/* "$SHARED"/images/style/*; do
    case "$f" in *.jpg | *.png) ;; *) continue ;; esac
    rel=${f#"$SHARED"/images/}
    line=$($IM "$f" -colorspace sRGB -type TrueColor -format '%w %h %[fx:255*mean.r] %[fx:255*mean.g] %[fx:255*mean.b]' info:)
    set -- $line
    [ $first = 1 ] || echo ","
    first=0
    printf '  {"file": "%s", "width": %s, "height": %s, "mean": [%s, %s, %s]}' "$rel" "$1" "$2" "$3" "$4" "$5"
  done
  echo
  echo "]"
} > shared_reference.json
