/// Builds the inputs of a prompt with images as llama.cpp's mtmd does: the rendered prompt is
/// cut at each image marker (``ChatMessage/imageMarker``); text pieces are tokenized without
/// BOS/EOS and with special tokens parsed; each marker becomes the image's embedding rows,
/// wrapped in the strings its projector type needs; BOS (EOS) goes first (last) when the
/// vocabulary asks for it.
///
/// - `mlp`: the embeddings alone.
/// - `idefics3`: for each tile `<fake_token_around_image><row_R_col_C>` then its embeddings,
///   a `\n` after each row but the last, then `\n\n<fake_token_around_image><global-img>`,
///   the overview's embeddings and `<fake_token_around_image>`.
/// - `mllama`: the `<|image|>` token, carrying the image for cross-attention. The text
///   `<|image|>` in a prompt also stands for an image.
/// - `gemma3`: `\n\n<start_of_image>`, the soft tokens, `<end_of_image>\n\n` (HF's
///   `Gemma3Processor`); the text model lets the soft tokens see each other both ways.
/// - `qwen2vl`: `<|vision_start|>`, the merged tokens, `<|vision_end|>` (the image carries its
///   grid for M-RoPE).
/// In Gemma 3 and Qwen prompts the family's own image text (`<start_of_image>`;
/// `<|vision_start|><|image_pad|><|vision_end|>`) stands for an image as the marker does.
public struct MultimodalPrompt: Sendable {
    public let tokenizer: VocabularyTokenizer
    public let layout: ImagePromptLayout

    public init(tokenizer: VocabularyTokenizer, layout: ImagePromptLayout) {
        self.tokenizer = tokenizer
        self.layout = layout
    }

    public init(tokenizer: VocabularyTokenizer, projectorType: ProjectorType) {
        self.init(tokenizer: tokenizer, layout: ImagePromptLayout(projectorType))
    }

    /// The text that stands for an image in mllama's own prompts.
    public static let mllamaImageToken = "<|image|>"

    /// The error of a prompt whose markers and images do not match, or whose vocabulary
    /// lacks a token the projector type needs.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case imageCountMismatch(markers: Int, images: Int)
        case missingToken(String)

        public var description: String {
            switch self {
            case .imageCountMismatch(let markers, let images):
                "The prompt has \(markers) image marker\(markers == 1 ? "" : "s") but \(images) image\(images == 1 ? " was" : "s were") given."
            case .missingToken(let piece):
                "The text model's vocabulary has no token '\(piece.debugDescription.dropFirst().dropLast())', which this projector type needs around images."
            }
        }
    }

    public func inputs(for prompt: String, images: [ImageEmbeddings], addSpecial: Bool = true) throws(Failure) -> GenerationPrompt {
        try inputs(for: prompt, images: images.map { EncodedImage($0, layout: layout) }, addSpecial: addSpecial)
    }

    public func inputs(for prompt: String, images: [EncodedImage], addSpecial: Bool = true) throws(Failure) -> GenerationPrompt {
        var text = layout == .mllama
            ? prompt.replacingOccurrences(of: Self.mllamaImageToken, with: ChatMessage.imageMarker) : prompt
        // The family's own image text, as its chat template writes it, stands for an image too.
        if let own = layout.familyMarker { text = text.replacingOccurrences(of: own, with: ChatMessage.imageMarker) }
        // The wrapping is text, tokenized with its neighbours as HF's processors do
        // ("user\n" + "\n\n" is "\n\n" + "\n", not "\n" + "\n\n").
        if let (open, close) = layout.wrapping {
            text = text.replacingOccurrences(of: ChatMessage.imageMarker, with: open + ChatMessage.imageMarker + close)
        }
        let segments = PromptSegment.split(text)
        let markers = segments.filter { $0 == .image }.count
        guard markers == images.count else { throw .imageCountMismatch(markers: markers, images: images.count) }
        var inputs: [Batch.Input] = []
        var next = 0
        for segment in segments {
            switch segment {
            case .text(let text):
                inputs += tokens(text)
            case .image:
                inputs += try imageInputs(images[next])
                next += 1
            }
        }
        let vocabulary = tokenizer.vocabulary
        if addSpecial, vocabulary.addBeginningOfSequence, let bos = tokenizer.beginningOfSequenceToken {
            inputs.insert(.token(bos), at: 0)
        }
        if addSpecial, vocabulary.addEndOfSequence, let eos = tokenizer.endOfSequenceToken {
            inputs.append(.token(eos))
        }
        return GenerationPrompt(inputs: inputs)
    }

    private func tokens(_ text: String) -> [Batch.Input] {
        tokenizer.encode(text, addSpecial: false, parseSpecial: true).map { .token($0) }
    }

    private func rows(_ part: PromptImage) -> [Batch.Input] {
        (0..<part.spanLength).map { .image(part, index: $0) }
    }

    private func imageInputs(_ image: EncodedImage) throws(Failure) -> [Batch.Input] {
        switch layout {
        case .mlp, .mllama:
            return image.parts.flatMap(rows)
        case .gemma3, .qwen2vl:
            return image.parts.flatMap(rows)   // wrapped in text before tokenizing
        case .idefics3:
            var inputs: [Batch.Input] = []
            let newline = try token("\n")
            guard let tiles = image.embeddings?.tiles else { return image.parts.flatMap(rows) }
            for (tile, part) in zip(tiles, image.parts) {
                switch tile.kind {
                case .grid(let row, let column):
                    if column == 0 && row > 0 { inputs.append(newline) }
                    inputs += tokens("<fake_token_around_image><row_\(row + 1)_col_\(column + 1)>")
                    inputs += rows(part)
                case .overview, .single:
                    let around = try token("<fake_token_around_image>")
                    inputs += [try token("\n\n"), around, try token("<global-img>")]
                    inputs += rows(part)
                    inputs.append(around)
                }
            }
            return inputs
        }
    }

    /// The token whose piece (special tokens rendered) is exactly `piece`, the first one.
    private func token(_ piece: String) throws(Failure) -> Batch.Input {
        let bytes = Array(piece.utf8)
        for id in 0..<tokenizer.vocabularySize where tokenizer.piece(for: Int32(id), special: true) == bytes {
            return .token(Int32(id))
        }
        throw .missingToken(piece)
    }
}

extension ImagePromptLayout {
    /// The text a family's chat template writes where an image goes, which its processor
    /// expands (Gemma 3's `<start_of_image>`, Qwen's `<|vision_start|><|image_pad|><|vision_end|>`).
    var familyMarker: String? {
        switch self {
        case .gemma3: "<start_of_image>"
        case .qwen2vl: "<|vision_start|><|image_pad|><|vision_end|>"
        case .mlp, .idefics3, .mllama: nil
        }
    }

    /// The text around an image's rows, for layouts that wrap it in text.
    var wrapping: (String, String)? {
        switch self {
        case .gemma3: ("\n\n<start_of_image>", "<end_of_image>\n\n")
        case .qwen2vl: ("<|vision_start|>", "<|vision_end|>")
        case .mlp, .idefics3, .mllama: nil
        }
    }
}
