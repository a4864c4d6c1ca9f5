#!/usr/bin/env python3
"""Build the image-decoding fixtures for Ponder's Inference tests.

Writes small JPEG, PNG and PPM/PGM files into Tests/InferenceTests/Fixtures/images/ and
references.json, which gives for each file the width, height and SHA-256 of the RGB pixels
(3 bytes per pixel, row-major) that ImageDecoder must produce:

* JPEG: what Pillow decodes (``Image.open(f)``, ``ImageOps.exif_transpose``,
  ``.convert("RGB")``). Pillow uses libjpeg-turbo with the default (islow) IDCT and fancy
  upsampling, as Ponder's decoder does. CMYK: Pillow assumes Adobe (inverted) CMYK for every
  CMYK JPEG and converts with R = C*K/255 rounded (likewise G, B), which Ponder matches.
* PNG and PPM: the samples the script itself encoded, reduced as stb_image (and so
  llama.cpp) reduces them: 16-bit samples keep their high byte, alpha and tRNS are dropped,
  palettes looked up, gray replicated. Where Pillow's own decoding follows the same rules it
  is checked to agree; it does not for 16-bit gray (Pillow clamps to 255) and 16-bit or
  maxval != 255 PPM (Pillow rescales), so those rely on the model alone.

PNGs are written by this script's own small encoder (Pillow cannot write 16-bit RGB or
interlaced PNG), cycling through all five row filters. Everything is deterministic.

Usage:  python3 Scripts/make_image_fixtures.py [output-directory]
Needs:  pip install pillow numpy
"""
from __future__ import annotations

import hashlib
import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "Tests/InferenceTests/Fixtures/images"

references: list[dict] = []


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB test image with a few hard edges: gradients, a disc and a bar."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / max(width - 1, 1)
    g = 255 * y / max(height - 1, 1)
    b = 128 + 100 * np.sin((x + 2 * y + seed) / 4.0)
    disc = (x - width * 0.6) ** 2 + (y - height * 0.4) ** 2 < (min(width, height) * 0.3) ** 2
    r = np.where(disc, 250, r)
    g = np.where(disc, 30, g)
    b = np.where((x > width * 0.2) & (x < width * 0.3), 20, b)
    return np.clip(np.stack([r, g, b], axis=-1).round(), 0, 255).astype(np.uint8)


def cmyk_pattern(width: int, height: int) -> np.ndarray:
    """CMYK with every ink varying, black included (Pillow's RGB->CMYK leaves K at 0)."""
    rgb = pattern(width, height, 7).astype(np.uint16)
    y, x = np.mgrid[0:height, 0:width]
    k = (255 * (x + y) / (width + height - 2)).astype(np.uint16)
    return np.concatenate([255 - rgb, k[..., None]], axis=2).astype(np.uint8)


def sha256(rgb: np.ndarray) -> str:
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def record(name: str, rgb: np.ndarray, source: str, note: str, **extra) -> None:
    entry = {"file": name, "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
             "sha256": sha256(rgb), "reference": source, "note": note}
    entry.update(extra)
    references.append(entry)


def pillow_rgb(path: Path, transpose: bool = False) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        if transpose:
            image = ImageOps.exif_transpose(image)
        return np.asarray(image.convert("RGB"))


# ---------------------------------------------------------------------------------------
# JPEG (Pillow writes, Pillow decodes the reference)

def save_jpeg(name: str, image: Image.Image, note: str, **options) -> Path:
    path = OUT / name
    image.save(path, "JPEG", **options)
    return path


def exif_bytes(orientation: int, big_endian: bool = False) -> bytes:
    """An APP1 Exif payload whose IFD0 holds one tag, Orientation (0x0112, SHORT)."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    ifd += struct.pack(e + "I", 0)
    return b"Exif\x00\x00" + tiff + ifd


def quadrants(width: int, height: int) -> np.ndarray:
    """Upright test card: red, green / blue, white quadrants (top-left first)."""
    rgb = np.zeros((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    rgb[:h2, :w2] = (220, 30, 30)
    rgb[:h2, w2:] = (30, 200, 30)
    rgb[h2:, :w2] = (30, 30, 220)
    rgb[h2:, w2:] = (235, 235, 235)
    return rgb


# How each orientation's stored image is made from the upright one: the inverse of what a
# viewer applies (Pillow's exif_transpose), so that decoding + transposing gives the card.
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,   # viewer rotates 90° clockwise (Pillow ROTATE_270)
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # viewer rotates 90° anticlockwise
}


def make_jpegs() -> None:
    base = Image.fromarray(pattern(37, 23))
    cases = [
        ("jpeg_baseline.jpg", base, "baseline, 4:2:0, quality 90", dict(quality=90)),
        ("jpeg_baseline_444.jpg", base, "baseline, 4:4:4", dict(quality=90, subsampling=0)),
        ("jpeg_baseline_422.jpg", base, "baseline, 4:2:2", dict(quality=85, subsampling=1)),
        ("jpeg_progressive.jpg", Image.fromarray(pattern(64, 48, 3)), "progressive, 4:2:0",
         dict(quality=88, progressive=True)),
        ("jpeg_optimized.jpg", base, "baseline with optimized Huffman tables",
         dict(quality=75, optimize=True)),
        ("jpeg_gray.jpg", base.convert("L"), "grayscale (1 component)", dict(quality=90)),
        ("jpeg_gray_progressive.jpg", base.convert("L"), "grayscale, progressive",
         dict(quality=90, progressive=True)),
        ("jpeg_cmyk.jpg", Image.fromarray(cmyk_pattern(37, 23), "CMYK"),
         "Adobe CMYK (inverted), all four inks varying; Pillow's conversion to RGB",
         dict(quality=92)),
        ("jpeg_1x1.jpg", Image.new("RGB", (1, 1), (200, 100, 50)), "one pixel", dict(quality=95)),
        ("jpeg_odd_17x1.jpg", Image.fromarray(pattern(17, 1)), "one row, partial MCU",
         dict(quality=90)),
        ("jpeg_odd_1x19.jpg", Image.fromarray(pattern(1, 19)), "one column, partial MCUs",
         dict(quality=90)),
    ]
    for name, image, note, options in cases:
        path = save_jpeg(name, image, note, **options)
        record(name, pillow_rgb(path), "pillow", note)

    # EXIF orientation: a 48x32 test card (not square, so a missing swap shows), stored as a
    # camera would have stored it. 4:4:4 so the quadrant colours stay clean.
    card = Image.fromarray(quadrants(48, 32))
    for orientation in range(1, 9):
        stored = card if STORE[orientation] is None else card.transpose(STORE[orientation])
        big = orientation % 2 == 0  # even orientations in Motorola byte order, odd in Intel
        name = f"jpeg_exif_{orientation}.jpg"
        note = f"EXIF orientation {orientation} ({'MM' if big else 'II'}); upright 48x32 card"
        path = save_jpeg(name, stored, note, quality=95, subsampling=0,
                         exif=exif_bytes(orientation, big_endian=big))
        rgb = pillow_rgb(path, transpose=True)
        assert rgb.shape == (32, 48, 3), (name, rgb.shape)
        record(name, rgb, "pillow", note, orientation=orientation, upright_card=True)

    # Orientation 6 behind an XMP APP1 segment; an out-of-range value (9, so no transform);
    # an Exif block whose IFD offset points past its end (ignored, no transform).
    stored = card.transpose(STORE[6])
    name = "jpeg_exif_6_after_xmp.jpg"
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, subsampling=0, exif=exif_bytes(6))
    data = buffer.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
    app1 = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    (OUT / name).write_bytes(data[:2] + app1 + data[2:])  # right after SOI, before Exif
    record(name, pillow_rgb(OUT / name, transpose=True), "pillow",
           "XMP APP1 first, then Exif orientation 6", orientation=6, upright_card=True)

    for name, exif, note in [
        ("jpeg_exif_invalid_9.jpg", exif_bytes(9), "orientation 9 (invalid): left as stored"),
        ("jpeg_exif_bad_offset.jpg",
         b"Exif\x00\x00II" + struct.pack("<HI", 42, 0xFFFFFF00), "IFD offset out of bounds: ignored"),
    ]:
        path = save_jpeg(name, stored, note, quality=95, subsampling=0, exif=exif)
        record(name, pillow_rgb(path), "pillow", note, orientation=1)


# ---------------------------------------------------------------------------------------
# PNG (our encoder; the model gives the reference, Pillow cross-checks)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def pack_row(samples: np.ndarray, depth: int) -> bytes:
    """One scanline's samples (1-D, already interleaved) as bytes."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    padded = np.zeros(-(-len(samples) // per_byte) * per_byte, np.uint8)
    padded[:len(samples)] = samples
    groups = padded.reshape(-1, per_byte)
    out = np.zeros(len(groups), np.uint8)
    for i in range(per_byte):
        out |= (groups[:, i] << (8 - depth * (i + 1))).astype(np.uint8)
    return out.tobytes()


def paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows: list[bytes], bpp: int, first_filter: int) -> bytes:
    """Each row with a filter byte; the filter cycles through None, Sub, Up, Average, Paeth."""
    out = bytearray()
    previous = bytes(len(rows[0])) if rows else b""
    for index, row in enumerate(rows):
        kind = (first_filter + index) % 5
        encoded = bytearray(len(row))
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            encoded[i] = (x - predictor) & 0xFF
        out.append(kind)
        out += encoded
        previous = row
    return bytes(out)


def write_png(name: str, samples: np.ndarray, depth: int, color_type: int, *,
              palette: np.ndarray | None = None, trns: bytes | None = None,
              interlace: bool = False) -> Path:
    """samples: (height, width, channels) array of sample values for `depth`."""
    height, width, channels = samples.shape
    assert channels == CHANNELS[color_type]
    bpp = max(1, channels * depth // 8)
    if interlace:
        data = b""
        for pass_index, (x0, y0, dx, dy) in enumerate(ADAM7):
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            rows = [pack_row(r.reshape(-1), depth) for r in sub]
            data += filter_rows(rows, bpp, pass_index)
    else:
        rows = [pack_row(r.reshape(-1), depth) for r in samples]
        data = filter_rows(rows, bpp, 0)
    body = b"\x89PNG\r\n\x1a\n"
    body += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0,
                                       1 if interlace else 0))
    if palette is not None:
        body += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        body += chunk(b"tRNS", trns)
    body += chunk(b"tEXt", b"Comment\x00Ponder image-decoding fixture")
    compressed = zlib.compress(data, 9)
    half = len(compressed) // 2  # two IDAT chunks, so the split is exercised too
    body += chunk(b"IDAT", compressed[:half]) + chunk(b"IDAT", compressed[half:])
    body += chunk(b"IEND", b"")
    path = OUT / name
    path.write_bytes(body)
    return path


def model_rgb(samples: np.ndarray, depth: int, color_type: int,
              palette: np.ndarray | None = None) -> np.ndarray:
    """What ImageDecoder should produce: stb_image's reduction of the samples."""
    if color_type == 3:
        return palette.astype(np.uint8)[samples[..., 0]]
    if depth == 16:
        samples = samples >> 8
    elif depth < 8:
        samples = samples * (255 // ((1 << depth) - 1))  # exact bit replication for 1, 2, 4
    samples = samples.astype(np.uint8)
    if color_type in (0, 4):
        return np.repeat(samples[..., :1], 3, axis=2)
    return samples[..., :3]


def make_pngs() -> None:
    rng = np.random.default_rng(20240611)
    w, h = 37, 23
    rgb8 = pattern(w, h, 1).astype(np.uint16)
    alpha8 = rng.integers(0, 256, (h, w, 1))
    wide = (rgb8 << 8) | rng.integers(0, 256, (h, w, 3))  # 16-bit, low bytes random
    gray8 = rgb8[..., :1]
    gray16 = (gray8 << 8) | rng.integers(0, 256, (h, w, 1))
    palette = np.concatenate([pattern(16, 16, 5).reshape(-1, 3)[:200],
                              rng.integers(0, 256, (56, 3))]).astype(np.uint8)
    indices = ((rgb8[..., :1].astype(np.int64) * 7 + np.arange(w)[None, :, None]) % 256)

    cases = [
        # name, samples, depth, color type, keyword arguments, pillow agrees, note
        ("png_rgb8.png", rgb8, 8, 2, {}, True, "RGB 8-bit"),
        ("png_rgba8.png", np.concatenate([rgb8, alpha8], 2), 8, 6, {}, True,
         "RGBA 8-bit: alpha dropped"),
        ("png_rgb16.png", wide, 16, 2, {}, True, "RGB 16-bit: high byte"),
        ("png_rgba16.png", np.concatenate([wide, (alpha8 << 8) | 0x55], 2), 16, 6, {}, True,
         "RGBA 16-bit: high byte, alpha dropped"),
        ("png_palette8.png", indices, 8, 3, dict(palette=palette), True, "palette, 8-bit indices"),
        ("png_palette8_trns.png", indices, 8, 3,
         dict(palette=palette, trns=bytes(range(0, 256, 2))), True,
         "palette with tRNS: transparency dropped"),
        ("png_palette4.png", indices % 16, 4, 3, dict(palette=palette[:16]), True,
         "palette, 4-bit indices"),
        ("png_palette1.png", indices % 2, 1, 3, dict(palette=palette[:2]), True,
         "palette, 1-bit indices"),
        ("png_gray8.png", gray8, 8, 0, {}, True, "gray 8-bit"),
        ("png_gray16.png", gray16, 16, 0, {}, False,
         "gray 16-bit: high byte (Pillow clamps instead)"),
        ("png_gray8_trns.png", gray8, 8, 0, dict(trns=struct.pack(">H", int(gray8[0, 0, 0]))),
         True, "gray with tRNS: transparency dropped"),
        ("png_gray4.png", gray8 >> 4, 4, 0, {}, True, "gray 4-bit: scaled up by 17"),
        ("png_gray2.png", gray8 >> 6, 2, 0, {}, True, "gray 2-bit: scaled up by 85"),
        ("png_gray1.png", gray8 >> 7, 1, 0, {}, True, "gray 1-bit: 0 or 255"),
        ("png_gray_alpha8.png", np.concatenate([gray8, alpha8], 2), 8, 4, {}, True,
         "gray+alpha 8-bit: alpha dropped"),
        ("png_gray_alpha16.png", np.concatenate([gray16, alpha8 << 8], 2), 16, 4, {}, True,
         "gray+alpha 16-bit: high byte, alpha dropped"),
        ("png_rgb8_trns.png", rgb8, 8, 2,
         dict(trns=struct.pack(">HHH", *map(int, rgb8[0, 0]))), True,
         "RGB with tRNS colour key: ignored"),
        ("png_rgb8_interlaced.png", rgb8, 8, 2, dict(interlace=True), True, "RGB, Adam7"),
        ("png_rgba16_interlaced.png", np.concatenate([wide, alpha8 << 8], 2), 16, 6,
         dict(interlace=True), True, "RGBA 16-bit, Adam7"),
        ("png_palette2_interlaced.png", indices % 4, 2, 3,
         dict(palette=palette[:4], interlace=True), True, "palette 2-bit, Adam7"),
        ("png_gray16_interlaced_3x2.png", gray16[:2, :3], 16, 0, dict(interlace=True), False,
         "gray 16-bit, Adam7, smaller than one 8x8 block (empty passes)"),
        ("png_rgb8_1x1.png", rgb8[:1, :1], 8, 2, {}, True, "one pixel"),
        ("png_rgb8_interlaced_1x1.png", rgb8[:1, :1], 8, 2, dict(interlace=True), True,
         "one pixel, Adam7 (six empty passes)"),
    ]
    for name, samples, depth, color_type, options, pillow_agrees, note in cases:
        path = write_png(name, np.asarray(samples), depth, color_type, **options)
        expected = model_rgb(np.asarray(samples), depth, color_type, options.get("palette"))
        if pillow_agrees:
            seen = pillow_rgb(path)
            assert np.array_equal(seen, expected), f"{name}: Pillow disagrees with the model"
        record(name, expected, "model" + ("+pillow" if pillow_agrees else ""), note)


# ---------------------------------------------------------------------------------------
# PPM / PGM (written by hand with comments; the model gives the reference)

def make_ppms() -> None:
    rng = np.random.default_rng(7)
    w, h = 13, 9
    rgb8 = pattern(w, h, 2)
    rgb16 = (rgb8.astype(np.uint16) << 8) | rng.integers(0, 256, (h, w, 3)).astype(np.uint16)
    gray8 = rgb8[..., 1:2]
    gray16 = rgb16[..., 1:2]
    dim = (rgb8 // 3).astype(np.uint8)  # values up to 85, for maxval 100
    cases = [
        ("ppm_p6_8bit.ppm", b"P6\n# made by make_image_fixtures.py\n13 9\n255\n",
         rgb8.tobytes(), rgb8, "P6, maxval 255, a comment"),
        ("ppm_p6_16bit.ppm", b"P6 13\t9 # width and height\n65535\n",
         rgb16.astype(">u2").tobytes(), (rgb16 >> 8).astype(np.uint8),
         "P6, maxval 65535: high byte"),
        ("ppm_p6_maxval100.ppm", b"P6\r\n13 9\r\n100\n", dim.tobytes(), dim,
         "P6, maxval 100: samples kept as they are, not rescaled (as stb_image)"),
        ("pgm_p5_8bit.pgm", b"P5\n#c1\n#c2\n13\n9\n255 ", gray8.tobytes(),
         np.repeat(gray8, 3, 2), "P5, maxval 255, comments, space before the raster"),
        ("pgm_p5_16bit.pgm", b"P5 13 9 4095\n", (gray16 >> 4).astype(">u2").tobytes(),
         np.repeat((gray16 >> 12).astype(np.uint8), 3, 2), "P5, maxval 4095: high byte"),
        ("ppm_p6_trailing.ppm", b"P6 13 9 255\n", rgb8.tobytes() + b"P6 1 1 255\n\x00\x00\x00",
         rgb8, "P6 followed by a second image, ignored"),
    ]
    for name, header, raster, expected, note in cases:
        (OUT / name).write_bytes(header + raster)
        if name == "ppm_p6_8bit.ppm":
            assert np.array_equal(pillow_rgb(OUT / name), expected)
        record(name, np.ascontiguousarray(expected), "model", note)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        if old.is_file() and old.suffix in {".jpg", ".png", ".ppm", ".pgm", ".json"}:
            old.unlink()
    make_jpegs()
    make_pngs()
    make_ppms()
    (OUT / "references.json").write_text(json.dumps({"images": references}, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.glob("*") if p.is_file())
    print(f"wrote {len(references)} images and references.json to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
