// EXIF orientation from a JPEG APP1 payload. Every read is bounds-checked against the
// payload: offsets in the file are untrusted.
#include "CImageCodecs.h"

#include <string.h>

static uint32_t read16(const uint8_t *p, int little) {
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8
                  : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t read32(const uint8_t *p, int little) {
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
                  : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int cic_exif_orientation(const uint8_t *payload, size_t size) {
    static const uint8_t exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (payload == NULL || size < sizeof exif_id + 8) return 1;
    if (memcmp(payload, exif_id, sizeof exif_id) != 0) return 1;

    // The TIFF structure: byte order, 42, offset of IFD0. Offsets count from its start.
    const uint8_t *tiff = payload + sizeof exif_id;
    size_t tiff_size = size - sizeof exif_id;
    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I') little = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M') little = 0;
    else return 1;
    if (read16(tiff + 2, little) != 42) return 1;

    uint32_t ifd = read32(tiff + 4, little);
    if (ifd > tiff_size || tiff_size - ifd < 2) return 1;
    uint32_t count = read16(tiff + ifd, little);
    size_t entries = ifd + 2;
    for (uint32_t i = 0; i < count; i++) {
        size_t entry = entries + (size_t)i * 12;
        if (entry > tiff_size || tiff_size - entry < 12) return 1;
        const uint8_t *e = tiff + entry;
        if (read16(e, little) != 0x0112) continue;
        uint32_t type = read16(e + 2, little);
        uint32_t n = read32(e + 4, little);
        if (n < 1) return 1;
        uint32_t value;
        if (type == 3) value = read16(e + 8, little);        // SHORT, the usual type
        else if (type == 4 && n == 1) value = read32(e + 8, little);  // LONG, seen in the wild
        else return 1;
        return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}
