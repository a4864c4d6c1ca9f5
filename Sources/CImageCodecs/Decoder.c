// The format-independent part of a decoder: creation, the call protocol, size checks.
#include "Internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CICDecoder *cic_decoder_create(CICFormat format, const uint8_t *data, size_t size,
                               uint64_t max_pixels) {
    if (format != CICFormatJPEG && format != CICFormatPNG) return NULL;
    CICDecoder *decoder = calloc(1, sizeof *decoder);
    if (decoder == NULL) return NULL;
    decoder->format = format;
    decoder->data = data;
    decoder->size = data == NULL ? 0 : size;
    decoder->max_pixels = max_pixels;
    decoder->orientation = 1;
    return decoder;
}

void cic_set_message(CICDecoder *decoder, const char *text) {
    snprintf(decoder->message, sizeof decoder->message, "%s", text == NULL ? "" : text);
    size_t length = strlen(decoder->message);
    while (length > 0 && (decoder->message[length - 1] == '.' ||
                          decoder->message[length - 1] == '\n' ||
                          decoder->message[length - 1] == ' ')) {
        decoder->message[--length] = '\0';
    }
}

CICStatus cic_check_size(CICDecoder *decoder, uint64_t width, uint64_t height) {
    decoder->width = width > UINT32_MAX ? UINT32_MAX : (uint32_t)width;
    decoder->height = height > UINT32_MAX ? UINT32_MAX : (uint32_t)height;
    if (width == 0 || height == 0) {
        cic_set_message(decoder, "the image has no pixels");
        return CICStatusZeroSize;
    }
    // Both are below 2^32, so the product cannot overflow 64 bits.
    if (width * height > decoder->max_pixels) {
        cic_set_message(decoder, "the image has too many pixels");
        return CICStatusTooLarge;
    }
    return CICStatusOK;
}

CICStatus cic_decoder_read_header(CICDecoder *decoder) {
    if (decoder == NULL) return CICStatusMisuse;
    if (decoder->stage != 0) {
        cic_set_message(decoder, "the header was already read");
        return CICStatusMisuse;
    }
    decoder->message[0] = '\0';
    CICStatus status = decoder->format == CICFormatJPEG ? cic_jpeg_read_header(decoder)
                                                        : cic_png_read_header(decoder);
    decoder->stage = status == CICStatusOK ? 1 : -1;
    return status;
}

CICStatus cic_decoder_read_pixels(CICDecoder *decoder, uint8_t *rgb, size_t capacity) {
    if (decoder == NULL) return CICStatusMisuse;
    if (decoder->stage != 1) {
        cic_set_message(decoder, "the pixels can be read once, after the header");
        return CICStatusMisuse;
    }
    uint64_t needed = (uint64_t)decoder->width * decoder->height * 3;
    if (rgb == NULL || (uint64_t)capacity < needed) {
        cic_set_message(decoder, "the output buffer is too small");
        return CICStatusMisuse;
    }
    CICStatus status = decoder->format == CICFormatJPEG ? cic_jpeg_read_pixels(decoder, rgb)
                                                        : cic_png_read_pixels(decoder, rgb);
    decoder->stage = status == CICStatusOK ? 2 : -1;
    return status;
}

uint32_t cic_decoder_width(const CICDecoder *decoder) { return decoder ? decoder->width : 0; }
uint32_t cic_decoder_height(const CICDecoder *decoder) { return decoder ? decoder->height : 0; }
int cic_decoder_orientation(const CICDecoder *decoder) { return decoder ? decoder->orientation : 1; }
const char *cic_decoder_message(const CICDecoder *decoder) { return decoder ? decoder->message : ""; }

void cic_decoder_destroy(CICDecoder *decoder) {
    if (decoder == NULL) return;
    if (decoder->format == CICFormatJPEG) cic_jpeg_destroy(decoder);
    else cic_png_destroy(decoder);
    free(decoder);
}
