// Placeholder replaced by the preprocessing branch.
public struct MllamaImagePreprocessor: Sendable {
    public struct Output: Sendable {
        public var pixels: [Float]
        public var tileCount: Int
        public var aspectRatioID: Int
    }
    public var imageSize: Int, maxTiles: Int, mean: [Float], std: [Float]
    public init(imageSize: Int, maxTiles: Int, mean: [Float], std: [Float]) {
        self.imageSize = imageSize; self.maxTiles = maxTiles; self.mean = mean; self.std = std
    }
    public func process(_ image: RGBImage) -> Output { fatalError("not merged yet") }
}
