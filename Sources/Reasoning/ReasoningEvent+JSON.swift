/// The JSON form of the events, one object per event, as `ask --json` prints them (field names
/// from DESIGN.md's command-line contract):
/// `{"event": "stage_started", "stage": "summary", "candidates": 4}`,
/// `{"event": "token", "stage": …, "candidate": i, "text": …}`,
/// `{"event": "candidate_finished", "stage": …, "candidate": i, "text": …, "tokens": n, "logprob": x}`
/// (with `"cut_at": "</SUMMARY>"` when the candidate ran into another stage's tag and was cut there),
/// `{"event": "stage_chosen", "stage": …, "candidate": i, "by": "judge" | "user" | "only" | "stopped", "scores": […]}`,
/// and, when stage-beam keeps several beams, `{"event": "beams_kept", "stage": …, "kept": [i, …]}`.
extension ReasoningEvent: Encodable {
    private enum Key: String, CodingKey {
        case event, stage, candidates, candidate, text, tokens, logprob, by, scores, kept
        case cutAt = "cut_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .stageStarted(let stage, let candidates):
            try container.encode("stage_started", forKey: .event)
            try container.encode(stage, forKey: .stage)
            try container.encode(candidates, forKey: .candidates)
        case .token(let stage, let candidate, let text):
            try container.encode("token", forKey: .event)
            try container.encode(stage, forKey: .stage)
            try container.encode(candidate, forKey: .candidate)
            try container.encode(text, forKey: .text)
        case .candidateFinished(let stage, let candidate, let text, let tokens, let logprob, let cutAt):
            try container.encode("candidate_finished", forKey: .event)
            try container.encode(stage, forKey: .stage)
            try container.encode(candidate, forKey: .candidate)
            try container.encode(text, forKey: .text)
            try container.encode(tokens, forKey: .tokens)
            // JSON has no infinities: an empty candidate's log-probability is null.
            if logprob.isFinite { try container.encode(logprob, forKey: .logprob) } else { try container.encodeNil(forKey: .logprob) }
            try container.encodeIfPresent(cutAt, forKey: .cutAt)
        case .stageChosen(let stage, let candidate, let by, let scores):
            try container.encode("stage_chosen", forKey: .event)
            try container.encode(stage, forKey: .stage)
            try container.encode(candidate, forKey: .candidate)
            try container.encode(by.rawValue, forKey: .by)
            try container.encode(scores.map { $0.isFinite ? $0 : nil }, forKey: .scores)
        case .beamsKept(let stage, let kept):
            try container.encode("beams_kept", forKey: .event)
            try container.encode(stage, forKey: .stage)
            try container.encode(kept, forKey: .kept)
        }
    }
}
