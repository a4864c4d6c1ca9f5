// libFuzzer entry point for the GGUF reader. Compiled together with Sources/GGUF by
// Scripts/fuzz-gguf.sh; not part of the package build.

@_cdecl("LLVMFuzzerTestOneInput")
public func ponderFuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? GGUFFile(bytes: bytes, name: "fuzz.gguf") else { return 0 }
    // Touch everything a later reader would: every metadata value through the typed
    // accessors, and every byte of every tensor's data.
    for (key, _) in file.metadata {
        _ = try? file.optionalString(key)
        _ = try? file.optionalInt(key)
        _ = try? file.optionalFloat(key)
        _ = try? file.optionalStringArray(key)
        _ = try? file.optionalFloatArray(key)
        _ = try? file.optionalIntArray(key)
    }
    var checksum: UInt8 = 0
    for tensor in file.tensors {
        precondition(tensor.fileOffset + tensor.byteCount <= file.fileSize, "tensor data out of bounds")
        for byte in file.data(for: tensor) { checksum &+= byte }
    }
    return checksum == 0 ? 0 : 0
}
