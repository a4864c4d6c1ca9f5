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
