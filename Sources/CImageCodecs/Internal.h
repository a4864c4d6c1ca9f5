// Shared between the CImageCodecs sources; not part of the public header.
#ifndef CIMAGECODECS_INTERNAL_H
#define CIMAGECODECS_INTERNAL_H

#include "CImageCodecs.h"

struct CICDecoder {
    CICFormat format;
    const uint8_t *data;
    size_t size;
    uint64_t max_pixels;

    uint32_t width;
    uint32_t height;
    int orientation;

    /// 0: created, 1: header read, 2: pixels read, -1: failed (the codec state is spent).
    int stage;
    char message[CIC_MESSAGE_CAPACITY];

    /// The codec's own state (a `CICJPEGState` or `CICPNGState`), owned by the decoder.
    void *codec;
};

/// Copies `text` into the decoder's message, truncating and dropping a trailing period.
void cic_set_message(CICDecoder *decoder, const char *text);

/// CICStatusTooLarge or CICStatusZeroSize (with the message set) when width × height is 0 or
/// over the limit; CICStatusOK otherwise.
CICStatus cic_check_size(CICDecoder *decoder, uint64_t width, uint64_t height);

CICStatus cic_jpeg_read_header(CICDecoder *decoder);
CICStatus cic_jpeg_read_pixels(CICDecoder *decoder, uint8_t *rgb);
void cic_jpeg_destroy(CICDecoder *decoder);

CICStatus cic_png_read_header(CICDecoder *decoder);
CICStatus cic_png_read_pixels(CICDecoder *decoder, uint8_t *rgb);
void cic_png_destroy(CICDecoder *decoder);

#endif
