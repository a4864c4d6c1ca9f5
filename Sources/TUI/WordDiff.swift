/// Where one text differs from another, word by word, for the compare view.
///
/// Words are runs of characters between whitespace, compared exactly (so `circle.` and
/// `circle` differ). The words of `text` that are not in a longest common subsequence of the
/// two word lists are the changed ones: `a small green circle` against `a small red square`
/// marks `green circle`. Words only the reference has are not shown (there is nothing of
/// theirs in `text` to mark).
public enum WordDiff {
    /// The most word pairs the subsequence table may hold (after the common start and end are
    /// set aside); beyond it every word between those is marked changed.
    static let tableLimit = 250_000

    /// One flag per `Character` of `text`: true inside a word that differs from `reference`.
    public static func changedCharacters(in text: String, against reference: String) -> [Bool] {
        let words = Self.words(of: text)
        let referenceWords = Self.words(of: reference).map(\.word)
        let changed = changedWords(words.map(\.word), referenceWords)
        var flags = [Bool](repeating: false, count: text.count)
        for (index, word) in words.enumerated() where changed[index] {
            for offset in word.range { flags[offset] = true }
        }
        return flags
    }

    /// One flag per word of `words`: true when it is not part of a longest common subsequence
    /// with `reference`.
    static func changedWords(_ words: [Substring], _ reference: [Substring]) -> [Bool] {
        var changed = [Bool](repeating: true, count: words.count)
        // The common start and end are the usual case and cost nothing.
        var start = 0
        while start < words.count, start < reference.count, words[start] == reference[start] {
            changed[start] = false
            start += 1
        }
        var end = 0
        while end < words.count - start, end < reference.count - start,
              words[words.count - 1 - end] == reference[reference.count - 1 - end] {
            changed[words.count - 1 - end] = false
            end += 1
        }
        let a = Array(words[start..<(words.count - end)]), b = Array(reference[start..<(reference.count - end)])
        guard !a.isEmpty, !b.isEmpty, a.count * b.count <= tableLimit else { return changed }
        // L[i][j]: the longest common subsequence of a[i...] and b[j...], row-major in one array.
        let width = b.count + 1
        var L = [Int32](repeating: 0, count: (a.count + 1) * width)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                L[i * width + j] = a[i] == b[j] ? L[(i + 1) * width + j + 1] + 1
                                                : max(L[(i + 1) * width + j], L[i * width + j + 1])
            }
        }
        // On ties a reference word is passed over first, so a word put in place of another
        // lines up with it: "2 + 0" against "0 + 1" marks "2" and "0", not "2 +".
        var i = 0, j = 0
        while i < a.count, j < b.count {
            if a[i] == b[j] {
                changed[start + i] = false
                i += 1
                j += 1
            } else if L[(i + 1) * width + j] > L[i * width + j + 1] {
                i += 1
            } else {
                j += 1
            }
        }
        return changed
    }

    /// The words of `text` and the `Character` offsets each covers.
    static func words(of text: String) -> [(word: Substring, range: Range<Int>)] {
        var result: [(word: Substring, range: Range<Int>)] = []
        var wordStart: (index: String.Index, offset: Int)?
        var offset = 0
        var index = text.startIndex
        while index < text.endIndex {
            let isSpace = text[index].isWhitespace
            if isSpace, let start = wordStart {
                result.append((text[start.index..<index], start.offset..<offset))
                wordStart = nil
            } else if !isSpace, wordStart == nil {
                wordStart = (index, offset)
            }
            offset += 1
            index = text.index(after: index)
        }
        if let start = wordStart { result.append((text[start.index...], start.offset..<offset)) }
        return result
    }
}
