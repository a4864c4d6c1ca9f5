#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CImageCodecs

/// Decodes JPEG, PNG and binary PPM/PGM files to 8-bit RGB.
///
/// The format comes from the file's first bytes, never its name. JPEG: baseline,
/// progressive, grayscale, CMYK and YCCK, turned upright by the EXIF orientation tag. PNG:
/// every bit depth and colour type, interlaced or not; 16-bit samples keep their high byte,
/// and alpha (including `tRNS`) is dropped rather than composited, as stb_image does when
/// asked for three channels. PPM: P6 and P5 with any maxval up to 65535; samples are taken as
/// they are (not rescaled to 255), 16-bit samples keep their high byte.
///
/// Every failure is an `ImageError` naming the file: corrupt or truncated data, images over
/// `maxPixels`, unreadable files. Nothing is allocated for the pixels before the header has
/// been checked against the limit, and no input can end the process.
public enum ImageDecoder {
    /// The most pixels (width × height) an image may have: 100 megapixels, 300 MB as RGB.
    public static let maxPixels = 100_000_000

    /// The largest file read: more than a 100-megapixel image needs even uncompressed.
    public static let maxFileBytes = 1 << 30

    /// Reads and decodes the image file at `path`. Errors name the file by `path`.
    public static func decode(contentsOf path: String) throws(ImageError) -> RGBImage {
        let bytes = try readFile(path)
        return try decode(bytes, name: path)
    }

    /// Decodes an image held in memory. `name` is used in errors, in place of a path.
    public static func decode(_ bytes: [UInt8], name: String) throws(ImageError) -> RGBImage {
        try decode(bytes, name: name, maxPixels: maxPixels)
    }

    /// The format the bytes start with, or nil when they are none of the three.
    public static func format(of bytes: [UInt8]) -> ImageFormat? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if PPMDecoder.hasSignature(bytes) { return .ppm }
        return nil
    }

    /// `decode(_:name:)` with a different pixel limit (the fuzzer uses a small one).
    static func decode(_ bytes: [UInt8], name: String, maxPixels: Int) throws(ImageError) -> RGBImage {
        guard !bytes.isEmpty else { throw ImageError(file: name, kind: .emptyFile) }
        switch format(of: bytes) {
        case .jpeg:
            let (image, orientation) = try decodeWithCodec(bytes, format: .jpeg, name: name,
                                                           maxPixels: maxPixels)
            return image.applyingEXIFOrientation(orientation)
        case .png:
            return try decodeWithCodec(bytes, format: .png, name: name, maxPixels: maxPixels).image
        case .ppm:
            return try PPMDecoder.decode(bytes, name: name, maxPixels: maxPixels)
        case nil:
            throw ImageError(file: name, kind: .unknownFormat)
        }
    }

    /// Runs the C decoder for `format`: header, limit check, then the pixels straight into the
    /// array that becomes the image.
    private static func decodeWithCodec(
        _ bytes: [UInt8], format: ImageFormat, name: String, maxPixels: Int
    ) throws(ImageError) -> (image: RGBImage, orientation: Int) {
        let result = bytes.withUnsafeBufferPointer { buffer -> Result<(RGBImage, Int), ImageError> in
            let codecFormat = format == .jpeg ? CICFormatJPEG : CICFormatPNG
            guard let decoder = cic_decoder_create(codecFormat, buffer.baseAddress, buffer.count,
                                                   UInt64(max(maxPixels, 0))) else {
                return .failure(ImageError(file: name, kind: .outOfMemory(format: format,
                                                                          detail: "decoder state")))
            }
            defer { cic_decoder_destroy(decoder) }
            var status = cic_decoder_read_header(decoder)
            guard status == CICStatusOK else {
                return .failure(error(for: status, decoder: decoder, format: format,
                                       name: name, maxPixels: maxPixels))
            }
            let width = Int(cic_decoder_width(decoder))
            let height = Int(cic_decoder_height(decoder))
            var pixels = [UInt8](repeating: 0, count: 3 * width * height)
            status = pixels.withUnsafeMutableBufferPointer { target in
                cic_decoder_read_pixels(decoder, target.baseAddress, target.count)
            }
            guard status == CICStatusOK else {
                return .failure(error(for: status, decoder: decoder, format: format,
                                      name: name, maxPixels: maxPixels))
            }
            let image = RGBImage(width: width, height: height, pixels: pixels)
            return .success((image, Int(cic_decoder_orientation(decoder))))
        }
        switch result {
        case .success(let (image, orientation)): return (image, orientation)
        case .failure(let error): throw error
        }
    }

    private static func error(
        for status: CICStatus, decoder: OpaquePointer, format: ImageFormat, name: String,
        maxPixels: Int
    ) -> ImageError {
        let detail = String(cString: cic_decoder_message(decoder))
        let width = Int(cic_decoder_width(decoder))
        let height = Int(cic_decoder_height(decoder))
        let kind: ImageError.Kind
        switch status {
        case CICStatusTooLarge:
            kind = .tooLarge(width: width, height: height, limit: maxPixels)
        case CICStatusZeroSize:
            kind = .noPixels(width: width, height: height)
        case CICStatusUnsupported:
            kind = .unsupported(format: format, detail: detail)
        case CICStatusOutOfMemory:
            kind = .outOfMemory(format: format, detail: detail)
        default:
            kind = .corrupt(format: format, detail: detail.isEmpty ? "unknown error" : detail)
        }
        return ImageError(file: name, kind: kind)
    }

    /// The whole file at `path`, read (not mapped, so a file that shrinks cannot fault).
    static func readFile(_ path: String) throws(ImageError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENOENT { throw ImageError(file: path, kind: .noSuchFile) }
            throw ImageError(file: path, kind: .cannotOpen(reason: errorText(code)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw ImageError(file: path, kind: .cannotOpen(reason: errorText(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError(file: path, kind: .notARegularFile)
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw ImageError(file: path, kind: .emptyFile) }
        guard size <= maxFileBytes else {
            throw ImageError(file: path, kind: .fileTooLarge(bytes: size, limit: maxFileBytes))
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        var failure: Int32 = 0
        bytes.withUnsafeMutableBytes { buffer in
            while filled < size {
                let count = read(descriptor, buffer.baseAddress! + filled, size - filled)
                if count > 0 {
                    filled += count
                } else if count == 0 {
                    break  // the file shrank since fstat
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
        }
        if failure != 0 { throw ImageError(file: path, kind: .cannotOpen(reason: errorText(failure))) }
        if filled < size { bytes.removeSubrange(filled...) }
        guard !bytes.isEmpty else { throw ImageError(file: path, kind: .emptyFile) }
        return bytes
    }

    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text).lowercased()
    }
}
