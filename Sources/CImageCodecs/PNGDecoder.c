// PNG decoding with libpng. libpng's default error handler aborts when no jump buffer is
// set; this one records the message and longjmps back to the API call that is running.
// Output is always 8-bit RGB: palettes expanded, gray replicated, 16-bit samples reduced to
// their high byte, alpha (and tRNS) dropped, interlacing undone.
#include "Internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct CICPNGState {
    png_structp png;
    png_infop info;
    CICDecoder *decoder;
    size_t offset;   // next byte the read callback hands to libpng
    int passes;      // 7 for Adam7-interlaced images, else 1
} CICPNGState;

static void error_handler(png_structp png, png_const_charp text) {
    CICPNGState *state = png_get_error_ptr(png);
    cic_set_message(state->decoder, text);
    png_longjmp(png, 1);
}

static void warning_handler(png_structp png, png_const_charp text) {
    // Warnings are about ancillary chunks (bad CRC in tEXt, an odd iCCP profile); the pixels
    // are unaffected.
    (void)png;
    (void)text;
}

static void read_data(png_structp png, png_bytep target, size_t length) {
    CICPNGState *state = png_get_io_ptr(png);
    CICDecoder *decoder = state->decoder;
    if (length > decoder->size - state->offset) png_error(png, "unexpected end of data");
    memcpy(target, decoder->data + state->offset, length);
    state->offset += length;
}

static uint32_t big_endian32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/// Walks the chunk list up to IEND without libpng: a chunk whose length runs past the end of
/// the data is an error here, before libpng sees it. libpng allocates an ancillary chunk's
/// whole stated length (up to 2 GB; its own size check is only a warning) before it finds
/// that the bytes are not there.
static CICStatus check_chunk_lengths(CICDecoder *decoder) {
    size_t offset = 8;
    while (decoder->size - offset >= 8) {
        uint32_t length = big_endian32(decoder->data + offset);
        const uint8_t *type = decoder->data + offset + 4;
        size_t remaining = decoder->size - offset - 8;
        if (length > remaining || remaining - length < 4) {
            char text[96];
            int printable = 1;
            for (int i = 0; i < 4; i++) {
                int c = type[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) printable = 0;
            }
            if (printable) {
                snprintf(text, sizeof text, "%.4s: the chunk runs past the end of the data",
                         (const char *)type);
            } else {
                snprintf(text, sizeof text, "a chunk runs past the end of the data");
            }
            cic_set_message(decoder, text);
            return CICStatusCorrupt;
        }
        if (memcmp(type, "IEND", 4) == 0) break;
        offset += 12 + (size_t)length;
    }
    return CICStatusOK;
}

CICStatus cic_png_read_header(CICDecoder *decoder) {
    // Size first, from IHDR as it stands, so that a huge or empty image gets the same
    // answer whatever else is wrong with the file (libpng rejects 0 or > 2^31 as corrupt).
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (decoder->size >= 24 && memcmp(decoder->data, signature, 8) == 0 &&
        memcmp(decoder->data + 12, "IHDR", 4) == 0) {
        CICStatus status = cic_check_size(decoder, big_endian32(decoder->data + 16),
                                          big_endian32(decoder->data + 20));
        if (status != CICStatusOK) return status;
    }

    CICStatus chunks = check_chunk_lengths(decoder);
    if (chunks != CICStatusOK) return chunks;

    CICPNGState *state = calloc(1, sizeof *state);
    if (state == NULL) {
        cic_set_message(decoder, "out of memory");
        return CICStatusOutOfMemory;
    }
    decoder->codec = state;
    state->decoder = decoder;
    state->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, state, error_handler,
                                        warning_handler);
    if (state->png == NULL) {
        cic_set_message(decoder, "out of memory");
        return CICStatusOutOfMemory;
    }
    state->info = png_create_info_struct(state->png);
    if (state->info == NULL) {
        cic_set_message(decoder, "out of memory");
        return CICStatusOutOfMemory;
    }
    if (setjmp(png_jmpbuf(state->png))) return CICStatusCorrupt;

    // The pixel limit below replaces libpng's own 1,000,000-per-side limit.
    png_set_user_limits(state->png, 0x7FFFFFFF, 0x7FFFFFFF);
    png_set_read_fn(state->png, state, read_data);
    png_read_info(state->png, state->info);

    png_uint_32 width, height;
    int bit_depth, color_type;
    png_get_IHDR(state->png, state->info, &width, &height, &bit_depth, &color_type,
                 NULL, NULL, NULL);
    CICStatus status = cic_check_size(decoder, width, height);
    if (status != CICStatusOK) return status;

    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(state->png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(state->png);
    if (bit_depth == 16) png_set_strip_16(state->png);  // high byte, as stb_image does
    png_set_strip_alpha(state->png);                    // also the alpha a tRNS expands to
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(state->png);
    state->passes = png_set_interlace_handling(state->png);
    png_read_update_info(state->png, state->info);

    if (png_get_channels(state->png, state->info) != 3 ||
        png_get_bit_depth(state->png, state->info) != 8 ||
        png_get_rowbytes(state->png, state->info) != (size_t)width * 3) {
        cic_set_message(decoder, "unexpected row layout after conversion to RGB");
        return CICStatusUnsupported;
    }
    return CICStatusOK;
}

CICStatus cic_png_read_pixels(CICDecoder *decoder, uint8_t *rgb) {
    CICPNGState *state = decoder->codec;
    if (setjmp(png_jmpbuf(state->png))) return CICStatusCorrupt;
    size_t stride = (size_t)decoder->width * 3;
    // Row by row rather than png_read_image, which needs an array of row pointers (as large
    // as the image itself for a 1-pixel-wide one). For interlaced images every pass visits
    // every row, and libpng merges the pass's pixels into the row already there.
    for (int pass = 0; pass < state->passes; pass++) {
        for (uint32_t y = 0; y < decoder->height; y++) {
            png_read_row(state->png, rgb + (size_t)y * stride, NULL);
        }
    }
    // Up to IEND, so a file cut after the image data still fails, as stb_image does.
    png_read_end(state->png, NULL);
    return CICStatusOK;
}

void cic_png_destroy(CICDecoder *decoder) {
    CICPNGState *state = decoder->codec;
    if (state == NULL) return;
    if (state->png != NULL) {
        png_destroy_read_struct(&state->png, state->info ? &state->info : NULL, NULL);
    }
    free(state);
    decoder->codec = NULL;
}
