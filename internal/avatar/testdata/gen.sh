#!/bin/sh
# Regenerates the test corpus of package avatar with real encoders.
#
# Needs (Debian): imagemagick, libjpeg-turbo-progs, libimage-exiftool-perl,
# pngcrush, gifsicle, python3 and python3-pil (Pillow writes the plain CMYK
# JPEG; python also writes the header bombs, which no encoder would make). Run from anywhere: sh internal/avatar/testdata/gen.sh
#
# Every picture is small (at most 200×150) and asymmetric: a red block marks
# the corner a viewer shows at the top left, so orientation can be checked.
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The scene as a browser should show it: a diagonal gradient, a red block at
# the top left, a blue disc towards the bottom right.
convert -size 200x150 gradient:'#3060a0-#a0c060' -rotate 0 \
	-fill '#ff0000' -draw 'rectangle 0,0 49,39' \
	-fill '#2040ff' -draw 'circle 150,110 172,110' \
	-strip "$tmp/scene.ppm"

# JPEG, baseline and progressive, both from libjpeg-turbo's cjpeg.
cjpeg -quality 90 -optimize "$tmp/scene.ppm" >baseline.jpg
cjpeg -quality 90 -progressive "$tmp/scene.ppm" >progressive.jpg

# Four-component JPEGs, both with an Adobe APP14 marker and inverted samples
# as Photoshop writes them: ImageMagick stores YCCK (transform 2), Pillow
# plain CMYK (transform 0).
convert "$tmp/scene.ppm" -colorspace CMYK -quality 90 ycck.jpg
"$PYTHON" -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("CMYK").save(sys.argv[2], quality=90)' \
	"$tmp/scene.ppm" cmyk.jpg

# Grayscale JPEG (one component).
cjpeg -quality 90 -grayscale "$tmp/scene.ppm" >gray.jpg

# A camera-like JPEG: the pixels are stored rotated 90° counter-clockwise and
# Orientation 6 tells the viewer to turn them clockwise, so a browser shows
# the scene above. It carries GPS, a body serial number, DateTimeOriginal, a
# JPEG COM comment, XMP and IPTC, all of which Process must drop.
convert "$tmp/scene.ppm" -rotate -90 "$tmp/rotated.ppm"
cjpeg -quality 90 "$tmp/rotated.ppm" >exif-orient6.jpg
exiftool -q -overwrite_original -n \
	-IFD0:Orientation=6 \
	-IFD0:Make=RosterCam -IFD0:Model=RC-1 \
	-ExifIFD:DateTimeOriginal='2021:03:04 05:06:07' \
	-ExifIFD:SerialNumber=SN8472019365 \
	-GPS:GPSLatitude=52.3731 -GPS:GPSLatitudeRef=N \
	-GPS:GPSLongitude=4.8922 -GPS:GPSLongitudeRef=E \
	-XMP-dc:Creator='Jane Roe' \
	-IPTC:By-line='Jane Roe' \
	-File:Comment='secret comment text' \
	exif-orient6.jpg

# A truncated JPEG: the first half of the baseline file.
size=$(wc -c <baseline.jpg)
head -c $((size / 2)) baseline.jpg >truncated.jpg

# A PNG with an 8-bit palette (PLTE), no text.
convert "$tmp/scene.ppm" -colors 16 -strip PNG8:palette.png

# A 16-bit, Adam7-interlaced PNG carrying tEXt, zTXt, iTXt and XMP.
convert "$tmp/scene.ppm" -depth 16 -interlace PNG -strip PNG48:"$tmp/deep16.png"
pngcrush -q -noreduce -force >/dev/null 2>&1 \
	-text b Author 'Jane Roe tEXt author' \
	-ztxt b Comment 'secret ztxt comment' \
	-itxt b Description en Beschreibung 'secret itxt description' \
	"$tmp/deep16.png" "$tmp/deep16-text.png"
rm -f deep16.png
exiftool -q -XMP-dc:Creator='Jane Roe xmp creator' -o deep16.png "$tmp/deep16-text.png"

# A PNG with an alpha channel: the scene with a fully transparent disc
# bottom left and a half-transparent band along the bottom.
convert -size 200x150 xc:white -fill gray50 -draw 'rectangle 0,120 199,149' \
	-fill black -draw 'circle 40,110 60,110' "$tmp/mask.png"
convert "$tmp/scene.ppm" "$tmp/mask.png" -alpha off -compose CopyOpacity -composite \
	-strip PNG32:alpha.png

# The PNG above with an HTML page appended after IEND (a polyglot).
cat alpha.png >payload.png
printf '<html><body><script>alert("payload")</script></body></html>\n' >>payload.png

# Files that are not images at all, to be offered as image/png.
printf '<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n' >page.html
printf '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>\n' >image.svg

# An animated GIF (120×90, four frames) that exercises compositing:
#   0: full frame, blue left half, transparent right half; disposal none
#   1: 40×30 green block at (60,30); disposal background (cleared afterwards)
#   2: 40×30 yellow block at (10,50); disposal previous (undone afterwards)
#   3: 30×20 red block at (90,0); disposal none
# plus a comment extension and a private application extension that must go,
# and the NETSCAPE loop count (3) that must stay.
convert -size 120x90 xc:none -fill '#0000ff' -draw 'rectangle 0,0 59,89' "$tmp/f0.gif"
convert -size 40x30 xc:'#00ff00' "$tmp/f1.gif"
convert -size 40x30 xc:'#ffff00' "$tmp/f2.gif"
convert -size 30x20 xc:'#ff0000' "$tmp/f3.gif"
gifsicle --no-warnings --loopcount=3 \
	--comment 'secret gif comment' \
	--app-extension 'ROSTERXY1.0' 'secret app data' \
	-d 20 -D none "$tmp/f0.gif" \
	-d 20 -D background -p 60,30 "$tmp/f1.gif" \
	-d 30 -D previous -p 10,50 "$tmp/f2.gif" \
	-d 40 -D none -p 90,0 "$tmp/f3.gif" >"$tmp/anim.gif"
gifsicle --no-warnings -S 120x90 "$tmp/anim.gif" >anim.gif

# 600 frames of 1×1: refused by the frame limit (500).
convert -size 1x1 xc:white "$tmp/one.gif"
set --
i=0
while [ $i -lt 600 ]; do set -- "$@" "$tmp/one.gif"; i=$((i + 1)); done
gifsicle --no-warnings "$@" >frames600.gif

# 60 tiny frames on a 1000×1000 logical screen: 60 megapixels of canvas,
# refused by the pixel budget though the file is tiny.
set --
i=0
while [ $i -lt 60 ]; do set -- "$@" "$tmp/one.gif"; i=$((i + 1)); done
gifsicle --no-warnings -S 1000x1000 "$@" >budget.gif

# Header bombs: a few dozen bytes declaring 30000×30000 pixels.
"$PYTHON" - <<'PY'
import struct, zlib

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
idat = zlib.compress(b"\x00" * 64)
with open("huge.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))

gif = b"GIF89a" + struct.pack("<HHBBB", 30000, 30000, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
gif += b"\x2c" + struct.pack("<HHHHB", 0, 0, 30000, 30000, 0) + b"\x02\x02\x4c\x01\x00\x3b"
with open("huge.gif", "wb") as f:
    f.write(gif)
PY

# The same trick in a JPEG: the baseline file with its SOF0 frame header
# patched to 30000×30000.
"$PYTHON" - <<'PY'
data = bytearray(open("baseline.jpg", "rb").read())
i = 2
while True:
    assert data[i] == 0xFF
    marker, length = data[i + 1], data[i + 2] << 8 | data[i + 3]
    if marker == 0xC0:
        data[i + 5:i + 9] = (30000).to_bytes(2, "big") * 2
        break
    i += 2 + length
open("huge.jpg", "wb").write(data)
PY
