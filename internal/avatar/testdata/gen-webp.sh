#!/bin/sh
# Regenerates the WebP test files of package avatar from the corpus's own
# pictures with libwebp's tools. Needs (Debian): webp. Run from anywhere:
# sh internal/avatar/testdata/gen-webp.sh
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A lossy opaque picture (VP8), a lossless one (VP8L), and a lossy one with
# an alpha plane (VP8X, ALPH, VP8).
cwebp -quiet -q 75 baseline.jpg -o lossy.webp
cwebp -quiet -lossless -z 6 baseline.jpg -o lossless.webp
cwebp -quiet -q 75 -alpha_q 100 alpha.png -o alpha.webp

# The lossy picture with EXIF, XMP and ICC chunks whose bodies carry
# markers a test looks for in what is stored.
printf 'Exif\0\0MM\0*ROSTER-EXIF-MARKER' >"$tmp/exif"
printf '<x:xmpmeta>ROSTER-XMP-MARKER</x:xmpmeta>' >"$tmp/xmp"
printf 'ROSTER-ICC-MARKER' >"$tmp/icc"
webpmux -set exif "$tmp/exif" lossy.webp -o "$tmp/a.webp"
webpmux -set xmp "$tmp/xmp" "$tmp/a.webp" -o "$tmp/b.webp"
webpmux -set icc "$tmp/icc" "$tmp/b.webp" -o meta.webp

# Two different frames, animated (VP8X, ANIM, ANMF): identical ones would be
# merged into a still.
img2webp -loop 0 -lossy -q 50 -d 100 alpha.png -d 100 baseline.jpg -o anim.webp
