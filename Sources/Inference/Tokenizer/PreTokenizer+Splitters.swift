/// The hand-written splitters llama.cpp uses instead of a regex engine for its most common
/// patterns (`unicode_regex_split_custom_*`). They reproduce llama.cpp's behaviour, quirks
/// included, on one segment `[start, end)` of codepoints and append the word lengths.
extension PreTokenizer {
    /// A view of one segment; outside it a codepoint reads as `outside` with no flags.
    struct Segment {
        let scalars: UnsafeBufferPointer<UInt32>
        let start: Int
        let end: Int
        static let outside: UInt32 = 0xFFFF_FFFF

        @inline(__always) func scalar(_ position: Int) -> UInt32 {
            position >= start && position < end ? scalars[position] : Segment.outside
        }

        @inline(__always) func flags(_ position: Int) -> UnicodeCategories.Flags {
            position >= start && position < end ? UnicodeCategories.flags(scalars[position]) : []
        }

        /// Length of a contraction (`'s 't 'm 'd 're 've 'll`) at `position`, or 0.
        @inline(__always) func contraction(at position: Int, ignoringCase: Bool) -> Int {
            guard scalar(position) == 0x27, position + 1 < end else { return 0 }
            let lower = { (value: UInt32) in ignoringCase ? UnicodeCategories.asciiLowercase(value) : value }
            let next = lower(scalar(position + 1))
            if next == 0x73 || next == 0x74 || next == 0x6D || next == 0x64 { return 2 }  // s t m d
            guard position + 2 < end else { return 0 }
            let after = lower(scalar(position + 2))
            if (next == 0x72 && after == 0x65) || (next == 0x76 && after == 0x65) || (next == 0x6C && after == 0x6C) {
                return 3  // re ve ll
            }
            return 0
        }

        /// Counts the whitespace run at `position`; also returns the end of its last \r or \n.
        @inline(__always) func whitespaceRun(at position: Int) -> (count: Int, lineBreakEnd: Int) {
            var count = 0
            var lineBreakEnd = 0
            while flags(position + count).contains(.whitespace) {
                let value = scalar(position + count)
                if value == 0x0D || value == 0x0A { lineBreakEnd = position + count + 1 }
                count += 1
            }
            return (count, lineBreakEnd)
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func splitGPT2(_ segment: Segment, into lengths: inout [Int]) {
        var position = segment.start
        var previousEnd = segment.start
        func emit(_ end: Int) {
            if end > previousEnd { lengths.append(end - previousEnd) }
            previousEnd = end
        }
        while position < segment.end {
            let scalar = segment.scalar(position)
            let flags = segment.flags(position)
            let contraction = segment.contraction(at: position, ignoringCase: false)
            if contraction > 0 {
                position += contraction
                emit(position)
                continue
            }
            let space = scalar == 0x20 ? 1 : 0
            var flags2 = space == 1 ? segment.flags(position + 1) : flags
            if flags2.contains(.letter) || flags2.contains(.number) {
                let kind: UnicodeCategories.Flags = flags2.contains(.letter) ? .letter : .number
                position += space
                while flags2.contains(kind) {
                    position += 1
                    flags2 = segment.flags(position)
                }
                emit(position)
                continue
            }
            if flags2.isDisjoint(with: [.whitespace, .letter, .number]) && flags2.rawValue != 0 {
                position += space
                while flags2.isDisjoint(with: [.whitespace, .letter, .number]) && flags2.rawValue != 0 {
                    position += 1
                    flags2 = segment.flags(position)
                }
                emit(position)
                continue
            }
            let run = segment.whitespaceRun(at: position)
            if run.count > 1 && segment.scalar(position + run.count) != Segment.outside {
                position += run.count - 1
            } else if run.count > 0 {
                position += run.count
            } else {
                position += 1
            }
            emit(position)
        }
    }

    /// Llama 3 (`digitGroup` 3) and Qwen2 (`digitGroup` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    static func splitLlama3(_ segment: Segment, digitGroup: Int, into lengths: inout [Int]) {
        var position = segment.start
        var previousEnd = segment.start
        func emit(_ end: Int) {
            if end > previousEnd { lengths.append(end - previousEnd) }
            previousEnd = end
        }
        while position < segment.end {
            let scalar = segment.scalar(position)
            let flags = segment.flags(position)
            let contraction = segment.contraction(at: position, ignoringCase: true)
            if contraction > 0 {
                position += contraction
                emit(position)
                continue
            }
            if !(scalar == 0x0D || scalar == 0x0A || flags.contains(.number)) {
                if flags.contains(.letter) || segment.flags(position + 1).contains(.letter) {
                    position += 1
                    while segment.flags(position).contains(.letter) { position += 1 }
                    emit(position)
                    continue
                }
            }
            if flags.contains(.number) {
                var groupStart = position
                while segment.flags(position).contains(.number) {
                    position += 1
                    if position - groupStart >= digitGroup {
                        emit(position)
                        groupStart = position
                    }
                }
                emit(position)
                continue
            }
            var flags2 = scalar == 0x20 ? segment.flags(position + 1) : flags
            if flags2.isDisjoint(with: [.whitespace, .letter, .number]) && flags.rawValue != 0 {
                position += scalar == 0x20 ? 1 : 0
                while flags2.isDisjoint(with: [.whitespace, .letter, .number]) && flags2.rawValue != 0 {
                    position += 1
                    flags2 = segment.flags(position)
                }
                var next = segment.scalar(position)
                while next == 0x0D || next == 0x0A {
                    position += 1
                    next = segment.scalar(position)
                }
                emit(position)
                continue
            }
            let run = segment.whitespaceRun(at: position)
            if run.lineBreakEnd > 0 {
                position = run.lineBreakEnd
            } else if run.count > 1 && segment.scalar(position + run.count) != Segment.outside {
                position += run.count - 1
            } else if run.count > 0 {
                position += run.count
            } else {
                position += 1
            }
            emit(position)
        }
    }
}
