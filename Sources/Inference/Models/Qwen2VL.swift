/// The `qwen2vl` family: the text model of Qwen2-VL and Qwen2.5-VL.
///
/// The block is qwen2's (see `Qwen2.swift`: NEOX rope, q/k/v biases) with multimodal rope
/// (M-RoPE): every position is three numbers (temporal, height, width), and the rotated pairs
/// of each head are split into sections (`rope.dimension_sections`, e.g. [16, 24, 24, 0] in
/// the 7B) that rotate by the temporal, height and width number in turn:
///
///     pairs [0, s₀) by t,  [s₀, s₀ + s₁) by h,  [s₀ + s₁, s₀ + s₁ + s₂) by w
///
/// A text token's three numbers are its rope position; an image of R × C merged tokens that
/// starts at rope position p₀ gives row r, column c the numbers (p₀, p₀ + r, p₀ + c), and the
/// text after it continues at p₀ + max(R, C) (HF's `get_rope_index`). So rope positions run
/// behind cache positions after an image; the model keeps each sequence's image spans
/// (`MRopeSpan`) to know by how much, through batches, forks and truncation.
///
/// The `qwen3vl` family (Qwen3-VL) differs in three ways: q/k RMSNorm per head instead of
/// biases (Qwen3's block); interleaved sections (pair i rotates by h when i % 3 = 1 and
/// i < 3·s₁, by w when i % 3 = 2 and i < 3·s₂, else by t, as transformers does; llama.cpp rotates
/// the pairs left over by a fourth position of 0); and deepstack: the vision tower's
/// intermediate features, merged, are added to the image's rows after each of the first
/// `n_deepstack_layers` text layers.
enum Qwen2VLFamily {
    static let ropeStyle = RopeStyle.halves
    static let requiresAttentionBiases = true
    static let sectionsKey = "rope.dimension_sections"
    static let ollamaSectionsKey = "rope.mrope_section"

    /// The rope sections: up to four pair counts (t, h, w, and a fourth llama.cpp leaves at 0)
    /// that fit in the rotated pairs.
    static func sections(_ reader: MetadataReader<TextModelError>, pairs: Int) throws(TextModelError) -> [Int] {
        // Ollama's qwen25vl files write HF's three counts as `rope.mrope_section`.
        let key = reader.contains(sectionsKey) || !reader.contains(ollamaSectionsKey) ? sectionsKey : ollamaSectionsKey
        guard let sections = try reader.optionalIntArray(key) else { throw reader.missing(sectionsKey) }
        guard (3...4).contains(sections.count), sections.allSatisfy({ $0 >= 0 }), sections.reduce(0, +) <= pairs,
              sections.prefix(3).reduce(0, +) > 0 else {
            throw reader.invalid(key, sections, "it must hold 3 or 4 pair counts that fit in the \(pairs) rotated pairs")
        }
        return Array(sections.prefix(3))
    }
}

/// An image span of one sequence, for M-RoPE: where it starts in the cache, how many
/// positions it takes, and how far it moves the rope position (max(R, C)).
struct MRopeSpan: Sendable, Equatable {
    let start: Int
    let length: Int
    let advance: Int

    /// How far rope positions run behind cache positions at cache position `position`, given
    /// the spans of its sequence.
    static func lag(_ spans: [MRopeSpan], before position: Int) -> Int {
        spans.reduce(0) { $0 + ($1.start + $1.length <= position ? $1.length - $1.advance : 0) }
    }
}
