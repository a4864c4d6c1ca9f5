/// The file formats `ImageDecoder` reads.
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg = "JPEG"
    case png = "PNG"
    /// Binary Netpbm: P6 (RGB) and P5 (gray).
    case ppm = "PPM"
}

/// The one error type of image decoding.
///
/// Every error names the file it concerns; `description` is one sentence suitable for a user,
/// such as `photo.jpg: corrupt JPEG data (Premature end of JPEG file).`
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The path does not exist.
        case noSuchFile
        /// The file exists but could not be opened or read.
        case cannotOpen(reason: String)
        /// The path is a directory, device or pipe.
        case notARegularFile
        case emptyFile
        /// The file is larger than any image the decoders accept.
        case fileTooLarge(bytes: Int, limit: Int)
        /// The first bytes are not a JPEG, PNG or PPM signature.
        case unknownFormat
        /// Well-formed, but a variant that is not decoded (12-bit JPEG, plain-text PPM).
        case unsupported(format: ImageFormat, detail: String)
        /// Corrupt or truncated data; `detail` is the codec's own explanation.
        case corrupt(format: ImageFormat, detail: String)
        /// width × height is over the pixel limit; nothing that size was allocated.
        case tooLarge(width: Int, height: Int, limit: Int)
        /// The header gives a width or height of 0.
        case noPixels(width: Int, height: Int)
        case outOfMemory(format: ImageFormat, detail: String)
    }

    /// The file (path or name) the error concerns.
    public var file: String
    public var kind: Kind

    public init(file: String, kind: Kind) {
        self.file = file
        self.kind = kind
    }

    public var description: String { "\(file): \(message)." }

    /// The problem, without the file name and the closing period.
    public var message: String {
        switch kind {
        case .noSuchFile:
            return "no such file"
        case .cannotOpen(let reason):
            return "cannot read the file (\(reason))"
        case .notARegularFile:
            return "not a regular file, so not an image"
        case .emptyFile:
            return "the file is empty"
        case .fileTooLarge(let bytes, let limit):
            return "the file is \(bytes) bytes, more than the \(limit) bytes an image may have"
        case .unknownFormat:
            return "not a JPEG, PNG or PPM image"
        case .unsupported(let format, let detail):
            return "unsupported \(format.rawValue) image (\(detail))"
        case .corrupt(let format, let detail):
            return "corrupt \(format.rawValue) data (\(detail))"
        case .tooLarge(let width, let height, let limit):
            let limitText = limit % 1_000_000 == 0 ? "\(limit / 1_000_000)-megapixel"
                                                   : "\(limit)-pixel"
            return "\(width) × \(height) pixels is more than the \(limitText) limit"
        case .noPixels(let width, let height):
            return "the image has no pixels (\(width) × \(height))"
        case .outOfMemory(let format, let detail):
            return "not enough memory to decode the \(format.rawValue) image (\(detail))"
        }
    }
}
