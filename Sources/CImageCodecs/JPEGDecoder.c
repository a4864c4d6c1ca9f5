// JPEG decoding with libjpeg(-turbo). libjpeg's default error handler prints and calls
// exit(); this one formats the message and longjmps back to the API call that is running.
// A truncated stream is only a warning to libjpeg (it pads the image with gray), so the
// warnings that mean "the data is corrupt or incomplete" are errors here.
#include "Internal.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct CICJPEGError {
    struct jpeg_error_mgr manager;  // first, so a j_common_ptr's err points at the whole struct
    jmp_buf jump;
    CICDecoder *decoder;
    CICStatus status;
} CICJPEGError;

typedef struct CICJPEGState {
    struct jpeg_decompress_struct info;
    CICJPEGError error;
    struct jpeg_progress_mgr progress;
    int created;         // jpeg_create_decompress succeeded
    uint8_t *cmyk_row;   // one row of CMYK samples, for 4-component images
} CICJPEGState;

static CICStatus status_for_error(int code) {
    switch (code) {
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_ARITH_NOTIMPL:
    case JERR_CONVERSION_NOTIMPL:
        return CICStatusUnsupported;
    case JERR_OUT_OF_MEMORY:
    case JERR_NO_BACKING_STORE:
        return CICStatusOutOfMemory;
    case JERR_EMPTY_IMAGE:
        return CICStatusZeroSize;
    case JERR_IMAGE_TOO_BIG:
        return CICStatusTooLarge;
    default:
        return CICStatusCorrupt;
    }
}

/// Warnings after which the pixels would be wrong: data is missing, or the entropy-coded
/// data does not decode. Harmless ones (extra bytes before a marker, an unknown JFIF
/// revision or Adobe transform) are ignored, as every common decoder does.
static int is_fatal_warning(int code) {
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        return 1;
    default:
        return 0;
    }
}

static void fail(j_common_ptr common, CICStatus status) {
    CICJPEGError *error = (CICJPEGError *)common->err;
    char text[JMSG_LENGTH_MAX];
    (*common->err->format_message)(common, text);
    cic_set_message(error->decoder, text);
    error->status = status;
    longjmp(error->jump, 1);
}

static void error_exit(j_common_ptr common) {
    fail(common, status_for_error(common->err->msg_code));
}

static void emit_message(j_common_ptr common, int level) {
    // level -1 is a warning; 0 and up are trace messages, which stay silent.
    if (level < 0 && is_fatal_warning(common->err->msg_code)) fail(common, CICStatusCorrupt);
}

static void output_message(j_common_ptr common) { (void)common; }

static void progress_monitor(j_common_ptr common) {
    j_decompress_ptr info = (j_decompress_ptr)common;
    if (info->input_scan_number > CIC_JPEG_MAX_SCANS) {
        CICJPEGError *error = (CICJPEGError *)common->err;
        char text[80];
        snprintf(text, sizeof text, "more than %d scans", CIC_JPEG_MAX_SCANS);
        cic_set_message(error->decoder, text);
        error->status = CICStatusUnsupported;
        longjmp(error->jump, 1);
    }
}

CICStatus cic_jpeg_read_header(CICDecoder *decoder) {
    CICJPEGState *state = calloc(1, sizeof *state);
    if (state == NULL) {
        cic_set_message(decoder, "out of memory");
        return CICStatusOutOfMemory;
    }
    decoder->codec = state;
    state->info.err = jpeg_std_error(&state->error.manager);
    state->error.manager.error_exit = error_exit;
    state->error.manager.emit_message = emit_message;
    state->error.manager.output_message = output_message;
    state->error.decoder = decoder;
    if (setjmp(state->error.jump)) {
        if (state->error.status == CICStatusZeroSize || state->error.status == CICStatusTooLarge) {
            decoder->width = state->info.image_width;
            decoder->height = state->info.image_height;
        }
        return state->error.status;
    }
    jpeg_create_decompress(&state->info);
    state->created = 1;
    state->progress.progress_monitor = progress_monitor;
    state->info.progress = &state->progress;
    if (decoder->size == 0) {
        cic_set_message(decoder, "no data");
        return CICStatusCorrupt;
    }
    // Multi-scan images keep all coefficients in memory (2 bytes per sample, at most 4
    // samples per pixel, plus padding to whole blocks): bound what libjpeg may take for them
    // by what an image within the pixel limit can need.
    uint64_t limit = decoder->max_pixels * 8 + (32u << 20);
    state->info.mem->max_memory_to_use = limit > (uint64_t)LONG_MAX ? LONG_MAX : (long)limit;
    jpeg_mem_src(&state->info, decoder->data, (unsigned long)decoder->size);
    jpeg_save_markers(&state->info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&state->info, TRUE);

    CICStatus size_status = cic_check_size(decoder, state->info.image_width,
                                           state->info.image_height);
    if (size_status != CICStatusOK) return size_status;

    switch (state->info.num_components) {
    case 1:
    case 3:
        state->info.out_color_space = JCS_RGB;  // gray is replicated by libjpeg
        break;
    case 4:
        state->info.out_color_space = JCS_CMYK;  // YCCK is converted to CMYK by libjpeg
        break;
    default: {
        char text[80];
        snprintf(text, sizeof text, "%d colour components", state->info.num_components);
        cic_set_message(decoder, text);
        return CICStatusUnsupported;
    }
    }

    for (jpeg_saved_marker_ptr marker = state->info.marker_list; marker; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1) continue;
        if (marker->data_length >= 6 && memcmp(marker->data, "Exif\0\0", 6) == 0) {
            decoder->orientation = cic_exif_orientation(marker->data, marker->data_length);
            break;
        }
    }
    return CICStatusOK;
}

/// Adobe CMYK JPEGs store inverted ink values (255 = no ink), so with C, M, Y, K as stored,
/// R = C·K/255, G = M·K/255, B = Y·K/255, rounded. Pillow assumes the same convention for
/// every CMYK JPEG and converts with exactly this rounding.
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, uint32_t width) {
    for (uint32_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        unsigned k = cmyk[3];
        rgb[0] = (uint8_t)((cmyk[0] * k + 127) / 255);
        rgb[1] = (uint8_t)((cmyk[1] * k + 127) / 255);
        rgb[2] = (uint8_t)((cmyk[2] * k + 127) / 255);
    }
}

CICStatus cic_jpeg_read_pixels(CICDecoder *decoder, uint8_t *rgb) {
    CICJPEGState *state = decoder->codec;
    if (setjmp(state->error.jump)) return state->error.status;
    jpeg_start_decompress(&state->info);
    uint32_t width = state->info.output_width;
    uint32_t height = state->info.output_height;
    int components = state->info.output_components;
    if (width != decoder->width || height != decoder->height ||
        components != (state->info.out_color_space == JCS_CMYK ? 4 : 3)) {
        cic_set_message(decoder, "unexpected output layout");
        return CICStatusUnsupported;
    }
    size_t stride = (size_t)width * 3;
    if (components == 4) {
        state->cmyk_row = malloc((size_t)width * 4);
        if (state->cmyk_row == NULL) {
            cic_set_message(decoder, "out of memory");
            return CICStatusOutOfMemory;
        }
    }
    while (state->info.output_scanline < height) {
        uint32_t y = state->info.output_scanline;
        JSAMPROW row = components == 4 ? state->cmyk_row : rgb + (size_t)y * stride;
        if (jpeg_read_scanlines(&state->info, &row, 1) != 1) {
            cic_set_message(decoder, "the decoder stopped before the last row");
            return CICStatusCorrupt;
        }
        if (components == 4) cmyk_to_rgb(state->cmyk_row, rgb + (size_t)y * stride, width);
    }
    // Reads to EOI, so a stream cut after the last row but in a later scan still fails.
    jpeg_finish_decompress(&state->info);
    return CICStatusOK;
}

void cic_jpeg_destroy(CICDecoder *decoder) {
    CICJPEGState *state = decoder->codec;
    if (state == NULL) return;
    if (state->created) jpeg_destroy_decompress(&state->info);
    free(state->cmyk_row);
    free(state);
    decoder->codec = NULL;
}
