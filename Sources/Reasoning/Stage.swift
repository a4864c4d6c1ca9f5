/// The four stages of a LLaVA-CoT answer, in the order the model produces them.
///
/// The strategies and judges of this module arrive with issue 5; the stage names
/// are fixed now because the command-line contract (`ask --json`) already uses them.
public enum Stage: String, Sendable, CaseIterable, Codable {
    case summary
    case caption
    case reasoning
    case conclusion

    /// The plain-text tag that opens the stage, e.g. `<SUMMARY>`.
    public var openingTag: String { "<\(rawValue.uppercased())>" }
    /// The plain-text tag that closes the stage, e.g. `</SUMMARY>`.
    public var closingTag: String { "</\(rawValue.uppercased())>" }
}

/// The instruction that asks a model not trained on the LLaVA-CoT format for the four stages.
public enum StageInstruction {
    public static let standard = """
        Answer in four tagged parts, in this order. <SUMMARY>: in a sentence or two, how you \
        will approach the question, without answering it yet. </SUMMARY> <CAPTION>: what in the \
        image matters for the question, described accurately. </CAPTION> <REASONING>: the \
        reasoning, step by step, from the description to the answer. </REASONING> \
        <CONCLUSION>: the answer itself, short and direct. </CONCLUSION>
        """
}

/// The stages a stage-level search goes through, and how each is opened and ended.
public enum StagePlan: Sendable, Equatable {
    /// LLaVA-CoT's four tagged stages: `<SUMMARY>` … `</CONCLUSION>`.
    case llavaCoT
    /// A thinking model's two (Qwen3-VL-Thinking and its kin): the reasoning inside
    /// `<think>` … `</think>`, then the answer to the end of the turn as the conclusion.
    case thinking

    public var stages: [Stage] {
        switch self {
        case .llavaCoT: Stage.allCases
        case .thinking: [.reasoning, .conclusion]
        }
    }

    /// The text fed to open stage `index`: its tag, after a blank line except for the first
    /// (thinking: `<think>\n`, and nothing before the answer).
    public func opening(_ index: Int) -> String {
        switch self {
        case .llavaCoT: (index == 0 ? "" : "\n\n") + stages[index].openingTag
        case .thinking: index == 0 ? "<think>\n" : ""
        }
    }

    /// The strings that end stage `index` (none: the end of the turn or the token budget).
    public func stopStrings(_ index: Int) -> [String] {
        switch self {
        case .llavaCoT: [stages[index].closingTag]
        case .thinking: index == 0 ? ["</think>"] : []
        }
    }

    /// The tag that ends stage `index` properly, written after a candidate cut at another tag
    /// (nil: the stage ends with the turn).
    public func closing(_ index: Int) -> String? {
        stopStrings(index).first
    }

    /// The tags that cut a candidate of stage `index` short: LLaVA-CoT's other tags (the
    /// other stages' opening and closing tags, and the stage's own opening tag), which a
    /// candidate that writes one has run past its stage. A thinking model's stages are not
    /// a tag pair each, so nothing cuts them.
    public func cutStrings(_ index: Int) -> [String] {
        switch self {
        case .llavaCoT:
            stages.flatMap { [$0.openingTag, $0.closingTag] }.filter { $0 != stages[index].closingTag }
        case .thinking: []
        }
    }
}
