/// A small backtracking regex matcher with ECMAScript semantics (ordered alternation, greedy
/// or lazy quantifiers, lookahead), for the pre-tokenizer patterns that llama.cpp hands to
/// `std::regex` rather than to a hand-written splitter.
///
/// It matches over "units": in collapsed mode a unit is `UnicodeCategories.collapsed(scalar)`
/// and `\p{L}`, `\p{N}`, `\p{P}`, `\p{M}`, `\p{S}` (and `\p{Lu}` etc.) stand for their collapsed
/// byte plus their ASCII members, exactly as llama.cpp rewrites them; in wide mode a unit is the
/// codepoint itself, with non-ASCII whitespace turned into U+000B as llama.cpp does.
struct SplitRegex: Sendable {
    /// A set of units: a bitmap for units below 256 and ranges above.
    struct UnitSet: Sendable {
        var low: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var high: [ClosedRange<UInt32>] = []
        var negated = false

        mutating func insert(_ range: ClosedRange<UInt32>) {
            var unit = range.lowerBound
            while unit <= min(range.upperBound, 255) {
                let bit = UInt64(1) << UInt64(unit & 63)
                switch unit >> 6 {
                case 0: low.0 |= bit
                case 1: low.1 |= bit
                case 2: low.2 |= bit
                default: low.3 |= bit
                }
                unit += 1
            }
            if range.upperBound > 255 { high.append(max(range.lowerBound, 256)...range.upperBound) }
        }

        mutating func formUnion(_ other: UnitSet) {
            precondition(!other.negated, "negated sets are only built at the top of a class")
            low.0 |= other.low.0; low.1 |= other.low.1; low.2 |= other.low.2; low.3 |= other.low.3
            high += other.high
        }

        @inline(__always) func contains(_ unit: UInt32) -> Bool {
            let member: Bool
            if unit < 256 {
                let word: UInt64
                switch unit >> 6 {
                case 0: word = low.0
                case 1: word = low.1
                case 2: word = low.2
                default: word = low.3
                }
                member = word & (UInt64(1) << UInt64(unit & 63)) != 0
            } else {
                member = high.contains { $0.contains(unit) }
            }
            return member != negated
        }
    }

    enum Instruction: Sendable {
        case unit(UInt32)
        case set(UnitSet)
        /// Try the first target; on failure resume at the second.
        case split(Int, Int)
        case jump(Int)
        case lookahead(negated: Bool, program: [Instruction])
        case lineStart, lineEnd
        case wordBoundary(negated: Bool)
        case match
    }

    let pattern: String
    let collapsed: Bool
    let program: [Instruction]
    /// Units that can begin a match, when the pattern cannot match the empty string.
    let firstUnits: UnitSet?

    init(_ pattern: String) throws(TokenizerError) {
        var parser = Parser(pattern: pattern)
        let node = try parser.parseAll()
        self.pattern = pattern
        self.collapsed = parser.usesCategories
        var program: [Instruction] = []
        try Self.compile(node, into: &program, pattern: pattern)
        program.append(.match)
        self.program = program
        self.firstUnits = node.nullable ? nil : node.firstUnits
    }

    /// The units this regex reads for the given codepoints.
    func units(for scalars: [UInt32]) -> [UInt32] {
        if collapsed { return scalars.map(UnicodeCategories.collapsed) }
        return scalars.map { scalar in
            scalar > 0x7F && UnicodeCategories.flags(scalar).contains(.whitespace) ? 0x0B : scalar
        }
    }

    /// Splits each segment (given as lengths) like llama.cpp's `unicode_regex_split_stl`:
    /// every match and every gap between matches becomes a segment of its own.
    func split(units: [UInt32], segments: [Int]) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(segments.count * 2)
        var stack: [(Int, Int)] = []
        units.withUnsafeBufferPointer { buffer in
            var start = 0
            for length in segments {
                let end = start + length
                var cursor = start
                var previousEnd = start
                var notEmpty = false
                while cursor <= end {
                    guard let (matchStart, matchEnd) = search(buffer, from: cursor, lower: start, upper: end,
                                                               notEmpty: notEmpty, stack: &stack) else { break }
                    if matchStart > previousEnd { result.append(matchStart - previousEnd) }
                    result.append(matchEnd - matchStart)
                    previousEnd = matchEnd
                    if matchEnd == matchStart {
                        // An empty match: look for a non-empty one at the same place, else step on.
                        if matchEnd == end { break }
                        if let (again, againEnd) = search(buffer, from: matchEnd, lower: start, upper: end,
                                                          notEmpty: true, continuous: true, stack: &stack) {
                            result.append(againEnd - again)
                            previousEnd = againEnd
                            cursor = againEnd
                            notEmpty = false
                            continue
                        }
                        cursor = matchEnd + 1
                    } else {
                        cursor = matchEnd
                    }
                    notEmpty = false
                }
                if previousEnd < end { result.append(end - previousEnd) }
                start = end
            }
        }
        return result
    }

    private func search(_ units: UnsafeBufferPointer<UInt32>, from cursor: Int, lower: Int, upper: Int,
                        notEmpty: Bool, continuous: Bool = false, stack: inout [(Int, Int)]) -> (Int, Int)? {
        var position = cursor
        while position <= upper {
            if let first = firstUnits, !continuous {
                while position < upper && !first.contains(units[position]) { position += 1 }
                if position >= upper { return nil }
            }
            if let end = Self.run(program, units, at: position, lower: lower, upper: upper,
                                  notEmpty: notEmpty, stack: &stack) {
                return (position, end)
            }
            if continuous { return nil }
            position += 1
        }
        return nil
    }

    /// Runs `program` anchored at `start`; returns the end of the first match in priority order.
    static func run(_ program: [Instruction], _ units: UnsafeBufferPointer<UInt32>, at start: Int,
                    lower: Int, upper: Int, notEmpty: Bool, stack: inout [(Int, Int)]) -> Int? {
        let base = stack.count
        defer { stack.removeSubrange(base...) }
        stack.append((0, start))
        while stack.count > base {
            var (pc, position) = stack.removeLast()
            execution: while true {
                switch program[pc] {
                case .unit(let unit):
                    guard position < upper, units[position] == unit else { break execution }
                    position += 1
                    pc += 1
                case .set(let set):
                    guard position < upper, set.contains(units[position]) else { break execution }
                    position += 1
                    pc += 1
                case .split(let first, let second):
                    stack.append((second, position))
                    pc = first
                case .jump(let target):
                    pc = target
                case .lookahead(let negated, let body):
                    let found = run(body, units, at: position, lower: lower, upper: upper,
                                    notEmpty: false, stack: &stack) != nil
                    guard found != negated else { break execution }
                    pc += 1
                case .lineStart:
                    guard position == lower else { break execution }
                    pc += 1
                case .lineEnd:
                    guard position == upper else { break execution }
                    pc += 1
                case .wordBoundary(let negated):
                    let before = position > lower && isWordUnit(units[position - 1])
                    let after = position < upper && isWordUnit(units[position])
                    guard (before != after) != negated else { break execution }
                    pc += 1
                case .match:
                    if notEmpty && position == start { break execution }
                    return position
                }
            }
        }
        return nil
    }

    @inline(__always) static func isWordUnit(_ unit: UInt32) -> Bool {
        (unit >= 0x30 && unit <= 0x39) || (unit >= 0x41 && unit <= 0x5A) || (unit >= 0x61 && unit <= 0x7A) || unit == 0x5F
    }
}
