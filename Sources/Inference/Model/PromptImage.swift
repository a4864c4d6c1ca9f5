/// An image as a prompt carries it: the model-side form of one encoded image, referred to by
/// the batch items of its span (`Batch.Input.image`). Two inputs hold the same image when they
/// hold the same `PromptImage` object, so masks, cross-attention and prefix matching find the
/// image without comparing floats.
public final class PromptImage: Sendable, Hashable, CustomStringConvertible {
    public enum Content: Sendable {
        /// Rows of input embeddings that take the image's place in the prompt
        /// (`[count × width]`, LLaVA and SmolVLM).
        case embeddings(values: [Float], width: Int)
        /// Vision states that the cross-attention layers attend to (mllama); the prompt holds
        /// one image token for it.
        case crossAttention(CrossAttentionStates)
    }

    /// Rows and columns of an image's tokens on the merged patch grid (Qwen2-VL's M-RoPE gives
    /// row r, column c the positions (p₀, p₀ + r, p₀ + c)); nil where positions are 1-D.
    public struct Grid: Sendable, Equatable {
        public let rows: Int
        public let columns: Int

        public init(rows: Int, columns: Int) {
            self.rows = rows
            self.columns = columns
        }
    }

    public let content: Content
    public let grid: Grid?
    /// Qwen3-VL's deepstack features: entry k (`[spanLength × width]`) is added to the image's
    /// rows after text layer k.
    public let deepstack: [[Float]]

    public init(_ content: Content, grid: Grid? = nil, deepstack: [[Float]] = []) {
        self.content = content
        self.grid = grid
        self.deepstack = deepstack
    }

    /// Positions the image takes in the prompt.
    public var spanLength: Int {
        switch content {
        case .embeddings(let values, let width): width > 0 ? values.count / width : 0
        case .crossAttention: 1
        }
    }

    public static func == (lhs: PromptImage, rhs: PromptImage) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    public var description: String {
        switch content {
        case .embeddings(let values, let width): "image of \(width > 0 ? values.count / width : 0) embedding rows"
        case .crossAttention(let states): "image of \(states.usedTiles) tile\(states.usedTiles == 1 ? "" : "s")"
        }
    }
}

/// The projected vision states of one image for cross-attention (mllama): every tile the
/// encoder ran, padding tiles included (`[tileCount × tokensPerTile × width]`). Text rows
/// attend to the first `usedTiles` tiles; a row with no image in view averages all of them.
public struct CrossAttentionStates: Sendable {
    public let values: [Float]
    public let tileCount: Int
    public let usedTiles: Int
    /// Positions per tile: the patches and the class token.
    public let tokensPerTile: Int
    public let width: Int

    public init(values: [Float], tileCount: Int, usedTiles: Int, tokensPerTile: Int, width: Int) {
        precondition(values.count == tileCount * tokensPerTile * width && usedTiles <= tileCount)
        self.values = values
        self.tileCount = tileCount
        self.usedTiles = usedTiles
        self.tokensPerTile = tokensPerTile
        self.width = width
    }

    public var tokenCount: Int { tileCount * tokensPerTile }
    public var usedTokenCount: Int { usedTiles * tokensPerTile }
}
