import Foundation

/// The special token ids and add-BOS/EOS flags of a checkpoint, found as llama.cpp's
/// `gguf.SpecialVocab` finds them:
/// - the post-processor: `ByteLevel` means no BOS/EOS; a `TemplateProcessing` whose single
///   template starts (ends) with a special token adds BOS (EOS), and its pair template decides SEP;
/// - `tokenizer_config.json`: `add_bos_token` etc. where the post-processor said nothing, and
///   `bos_token` etc. (a string or `{"content"}`) looked up among `added_tokens`;
/// - `config.json` (and its `text_config`): `bos_token_id` etc. where still unset;
/// - Ponder also falls back to `generation_config.json` for BOS, EOS and padding (llama.cpp does not).
struct SpecialTokens {
    /// GGUF key suffixes (`bos_token_id`, `padding_token_id`, …) and ids, in llama.cpp's order.
    private(set) var ids: [(String, Int)] = []
    /// `bos`, `eos`, `sep` … and whether to add them.
    private(set) var addFlags: [(String, Bool)] = []

    private static let keyNames = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id",
                                   "sep": "seperator_token_id", "pad": "padding_token_id", "cls": "cls_token_id",
                                   "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"]

    init(checkpoint: HFCheckpoint, tokenizer: JSONFile?, vocabularySize: Int) {
        var types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
        var config = checkpoint.tokenizerConfig?.root
        var found: [String: Int] = [:]
        var order: [String] = []
        var flags: [String: Bool] = [:]
        var flagOrder: [String] = []
        func setFlag(_ name: String, _ value: Bool, onlyIfUnset: Bool = false) {
            if flags[name] == nil { flagOrder.append(name) } else if onlyIfUnset { return }
            flags[name] = value
        }
        func content(_ key: String) -> String? {
            if let text = config?[key] as? String { return text }
            return (config?[key] as? [String: Any])?["content"] as? String
        }
        var bos = content("bos_token"), eos = content("eos_token")
        let cls = content("cls_token"), sep = content("sep_token")
        if bos == nil, let cls, config != nil { config?["bos_token"] = cls; bos = cls }
        if eos == nil, let sep, config != nil { config?["eos_token"] = sep; eos = sep }
        let processor = tokenizer?.root["post_processor"] as? [String: Any]
        let processors = (processor?["processors"] as? [[String: Any]]) ?? (processor.map { [$0] } ?? [])
        func specialID(_ item: [String: Any]?) -> String? { (item?["SpecialToken"] as? [String: Any])?["id"] as? String }
        for step in processors {
            switch step["type"] as? String {
            case "ByteLevel":
                setFlag("bos", false, onlyIfUnset: true)
                setFlag("eos", false, onlyIfUnset: true)
            case "TemplateProcessing":
                let single = step["single"] as? [[String: Any]] ?? []
                var first: String?, last: String?
                if single.count > 1 {
                    if let id = specialID(single.first) {
                        first = id
                        if config == nil { bos = id }
                        setFlag("bos", id == bos || id == cls)
                    }
                    if let id = specialID(single.last) {
                        last = id
                        if config == nil { eos = id } else if id != eos {
                            if let old = eos { types.append("eot"); config?["eot_token"] = old }
                            config?["eos_token"] = id
                            eos = id
                        }
                        setFlag("eos", id == eos)
                    }
                }
                var pair = step["pair"] as? [[String: Any]] ?? []
                if !pair.isEmpty {
                    if first != nil, specialID(pair.first) == first { pair.removeFirst() }
                    if last != nil, !pair.isEmpty, specialID(pair.last) == last { pair.removeLast() }
                    func sequence(_ item: [String: Any]?) -> String? { (item?["Sequence"] as? [String: Any])?["id"] as? String }
                    if pair.count > 2, sequence(pair.first) == "A", sequence(pair.last) == "B" {
                        let middle = Array(pair.dropFirst().dropLast())
                        var addSeparator = false
                        if let id = specialID(middle.first), [sep, eos].contains(id), last == nil { addSeparator = true }
                        if middle.count == 2, let id = specialID(middle[1]), [sep, eos].contains(id) { addSeparator = true }
                        setFlag("sep", addSeparator)
                    }
                }
            default:
                break
            }
        }
        let added = tokenizer?.root["added_tokens"] as? [[String: Any]] ?? []
        func set(_ type: String, _ id: Int?) {
            guard let id, id >= 0, id < vocabularySize, found[type] == nil else { return }
            found[type] = id
            order.append(type)
        }
        if let config {
            for type in types {
                if let flag = config["add_\(type)_token"] as? Bool { setFlag(type, flag, onlyIfUnset: true) }
                let value = config["\(type)_token"]
                let text = (value as? String) ?? ((value as? [String: Any])?["content"] as? String)
                guard let text else { continue }
                set(type, added.first { $0["content"] as? String == text }.flatMap { ($0["id"] as? NSNumber)?.intValue })
            }
        }
        let model = checkpoint.config
        for type in types {
            let value: TokenIDs?
            switch type {
            case "bos": value = model.bosTokenId ?? model.textConfig?.bosTokenId
            case "eos": value = model.eosTokenId ?? model.textConfig?.eosTokenId
            case "pad": value = model.padTokenId ?? model.textConfig?.padTokenId
            default: value = nil
            }
            set(type, value?.single)
        }
        if let generation = checkpoint.generationConfig?.root {
            for type in ["bos", "eos", "pad"] { set(type, (generation["\(type)_token_id"] as? NSNumber)?.intValue) }
        }
        ids = order.compactMap { type in Self.keyNames[type].map { ($0, found[type]!) } }
        addFlags = flagOrder.map { ($0, flags[$0]!) }
    }
}
