// libFuzzer entry point for image decoding (JPEG, PNG, PPM). Compiled together with
// Sources/Inference/Image and the CImageCodecs C sources by Scripts/fuzz-images.sh; not part
// of the package build.

/// A small pixel limit (4 megapixels) keeps each input fast and within libFuzzer's memory
/// limit; the code paths are the same as at 100 megapixels.
private let fuzzMaxPixels = 1 << 22

@_cdecl("LLVMFuzzerTestOneInput")
public func ponderFuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let image = try ImageDecoder.decode(bytes, name: "fuzz", maxPixels: fuzzMaxPixels)
        precondition(image.width > 0 && image.height > 0, "decoded an empty image")
        precondition(image.width * image.height <= fuzzMaxPixels, "decoded past the pixel limit")
        precondition(image.pixels.count == 3 * image.width * image.height, "wrong pixel count")
        // Read every byte (uninitialized or freed memory shows up under ASan).
        var checksum: UInt8 = 0
        for byte in image.pixels { checksum &+= byte }
        return checksum == 0 ? 0 : 0
    } catch {
        precondition(error.description.hasPrefix("fuzz: ") && error.description.hasSuffix("."),
                     "malformed error: \(error.description)")
        return 0
    }
}
