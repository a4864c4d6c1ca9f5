// CImageCodecs: JPEG (libjpeg) and PNG (libpng) decoding to 8-bit interleaved RGB, behind
// setjmp/longjmp error managers, so corrupt or hostile input yields a status and a message and
// never exits or aborts the process.
//
// A decoder is used in two steps, so the caller can allocate the output itself once it knows
// the size:
//
//     CICDecoder *decoder = cic_decoder_create(CICFormatJPEG, data, size, 100000000);
//     if (cic_decoder_read_header(decoder) == CICStatusOK) {
//         uint8_t *rgb = malloc(3 * width * height);    // from cic_decoder_width/height
//         cic_decoder_read_pixels(decoder, rgb, capacity);
//     }
//     cic_decoder_destroy(decoder);
//
// `data` must stay valid and unchanged until the decoder is destroyed. A decoder is not
// thread-safe; different decoders may be used on different threads at the same time.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum CICFormat {
    CICFormatJPEG = 0,
    CICFormatPNG = 1,
} CICFormat;

typedef enum CICStatus {
    CICStatusOK = 0,
    /// The codec rejected the data (corrupt, truncated); the message says why.
    CICStatusCorrupt = 1,
    /// Well-formed data of a kind the codec does not decode (e.g. 12-bit or lossless JPEG).
    CICStatusUnsupported = 2,
    /// width × height is over the decoder's pixel limit. Width and height are set.
    CICStatusTooLarge = 3,
    /// Width or height is 0. Width and height are set.
    CICStatusZeroSize = 4,
    /// An allocation failed.
    CICStatusOutOfMemory = 5,
    /// The caller broke the protocol (pixels before header, output buffer too small).
    CICStatusMisuse = 6,
} CICStatus;

/// Capacity of the message buffer, terminating NUL included.
#define CIC_MESSAGE_CAPACITY 200

/// Progressive JPEGs with more scans than this are refused: each scan revisits the whole
/// image, so a tiny file with thousands of scans would otherwise take minutes.
#define CIC_JPEG_MAX_SCANS 500

typedef struct CICDecoder CICDecoder;

/// A decoder over `size` bytes at `data` that refuses images of more than `max_pixels`
/// pixels. Returns NULL only when it cannot allocate its own state.
CICDecoder *cic_decoder_create(CICFormat format, const uint8_t *data, size_t size,
                               uint64_t max_pixels);

/// Reads the header: size, colour type and (JPEG) the EXIF orientation. Checks the pixel
/// limit before anything the size of the image is allocated.
CICStatus cic_decoder_read_header(CICDecoder *decoder);

/// Decodes the image into `rgb` (3 · width · height bytes, row-major, R G B per pixel).
/// Call once, after `cic_decoder_read_header` returned CICStatusOK.
CICStatus cic_decoder_read_pixels(CICDecoder *decoder, uint8_t *rgb, size_t capacity);

uint32_t cic_decoder_width(const CICDecoder *decoder);
uint32_t cic_decoder_height(const CICDecoder *decoder);

/// EXIF orientation 1...8 of a JPEG (tag 0x0112 in the first Exif APP1 segment); 1 when
/// absent or unreadable, and always 1 for PNG.
int cic_decoder_orientation(const CICDecoder *decoder);

/// The last failure, one short phrase without a trailing period; "" after success.
const char *cic_decoder_message(const CICDecoder *decoder);

void cic_decoder_destroy(CICDecoder *decoder);

/// The EXIF orientation in an APP1 payload (starting with "Exif\0\0"), 1...8; 1 when the
/// payload is not Exif, has no orientation tag, or is malformed. Never reads outside
/// `payload[0..<size]`.
int cic_exif_orientation(const uint8_t *payload, size_t size);

#ifdef __cplusplus
}
#endif

#endif
