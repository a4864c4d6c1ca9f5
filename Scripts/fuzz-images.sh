#!/usr/bin/env bash
# Fuzz image decoding with libFuzzer (coverage-guided, with AddressSanitizer).
#
#   Scripts/fuzz-images.sh [SECONDS] [jpeg|png|ppm|all] [extra libFuzzer flags]
#
# Builds .build-fuzz-images/fuzz-images from Sources/CImageCodecs (clang, instrumented),
# Sources/Inference/Image and Scripts/fuzz/ImageFuzzEntry.swift (swiftc), seeds one corpus
# per format with the committed fixtures and regression inputs, and runs for SECONDS
# (default 180) on all cores. Crashes, leaks and timeouts land in
# .build-fuzz-images/findings/; copy each into Tests/InferenceTests/Fixtures/images/regressions/
# once it is fixed, so `swift test` keeps decoding it.
#
# By default it links the system libjpeg and libpng, which are not instrumented: coverage
# then guides only through Ponder's shim and Swift code. Point LIBJPEG_TURBO_SRC and
# LIBPNG_SRC at source trees (e.g. libjpeg-turbo tag 2.1.5 and libpng v1.6.39, the Debian
# versions) to build both with coverage and ASan as well (needs cmake):
#
#   LIBJPEG_TURBO_SRC=~/src/libjpeg-turbo LIBPNG_SRC=~/src/libpng Scripts/fuzz-images.sh 180 jpeg
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-180}
format=${2:-all}
shift 2 || shift $# || true
case "$format" in jpeg|png|ppm|all) ;; *) echo "format must be jpeg, png, ppm or all" >&2; exit 2 ;; esac

root=$PWD
out=.build-fuzz-images
mkdir -p "$out/objects" "$out/modules" "$out/findings" "$out/corpus-$format"

flags=(-O1 -g -fsanitize=fuzzer-no-link,address)
includes=()
libraries=(-ljpeg -lpng)
if [[ -n "${LIBJPEG_TURBO_SRC:-}" && -n "${LIBPNG_SRC:-}" ]]; then
    jpeg_build=$out/libjpeg-turbo
    if [[ ! -f $jpeg_build/libjpeg.a ]]; then
        CC=clang CFLAGS="${flags[*]}" cmake -S "$LIBJPEG_TURBO_SRC" -B "$jpeg_build" \
            -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -DENABLE_SHARED=0 -DWITH_SIMD=0 \
            -DWITH_TURBOJPEG=0 >/dev/null
        cmake --build "$jpeg_build" --target jpeg-static -j "$(nproc)" >/dev/null
    fi
    png_build=$out/libpng
    if [[ ! -f $png_build/libpng16.a ]]; then
        mkdir -p "$png_build/objects"
        cp "$LIBPNG_SRC/scripts/pnglibconf.h.prebuilt" "$png_build/pnglibconf.h"
        for name in png pngerror pngget pngmem pngpread pngread pngrio pngrtran pngrutil pngset \
                    pngtrans pngwio pngwrite pngwtran pngwutil; do
            clang "${flags[@]}" -DPNG_ARM_NEON_OPT=0 -I"$png_build" -I"$LIBPNG_SRC" \
                -c "$LIBPNG_SRC/$name.c" -o "$png_build/objects/$name.o"
        done
        ar rcs "$png_build/libpng16.a" "$png_build"/objects/*.o
    fi
    includes=(-I"$jpeg_build" -I"$LIBJPEG_TURBO_SRC" -I"$png_build" -I"$LIBPNG_SRC")
    libraries=("$jpeg_build/libjpeg.a" "$png_build/libpng16.a" -lz -lm)
fi

# The C shim, instrumented for coverage and ASan (against the same headers it links with).
for source in Sources/CImageCodecs/*.c; do
    clang "${flags[@]}" "${includes[@]}" -ISources/CImageCodecs/include \
        -c "$source" -o "$out/objects/$(basename "$source" .c).o"
done
cat > "$out/modules/module.modulemap" <<MAP
module CImageCodecs {
    header "$root/Sources/CImageCodecs/include/CImageCodecs.h"
    export *
}
MAP
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name Inference \
    -I "$out/modules" Sources/Inference/Image/*.swift Scripts/fuzz/ImageFuzzEntry.swift \
    "$out"/objects/*.o "${libraries[@]}" -o "$out/fuzz-images"

images=Tests/InferenceTests/Fixtures/images
case "$format" in
    jpeg) patterns=("*.jpg") ;;
    png) patterns=("*.png") ;;
    ppm) patterns=("*.ppm" "*.pgm") ;;
    all) patterns=("*.jpg" "*.png" "*.ppm" "*.pgm") ;;
esac
for pattern in "${patterns[@]}"; do
    find "$images" -maxdepth 1 -name "$pattern" -exec cp {} "$out/corpus-$format/" \;
done
find "$images/regressions" -type f ! -name README.md -exec cp {} "$out/corpus-$format/" \; 2>/dev/null || true

jobs=${FUZZ_JOBS:-$(nproc)}
# libFuzzer writes one fuzz-N.log per job into the working directory.
cd "$out"
./fuzz-images "corpus-$format" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix=findings/ -jobs="$jobs" -workers="$jobs" \
    -print_final_stats=1 "$@"
echo "Findings (empty when none): $(ls findings | wc -l) in $out/findings"
