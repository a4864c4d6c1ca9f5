/// Parsing and compiling the pattern subset the pre-tokenizers use.
extension SplitRegex {
    indirect enum Node {
        case unit(UInt32)
        case set(UnitSet)
        case concatenation([Node])
        case alternation([Node])
        case repetition(Node, minimum: Int, maximum: Int?, greedy: Bool)
        case lookahead(Node, negated: Bool)
        case lineStart, lineEnd
        case wordBoundary(negated: Bool)

        var nullable: Bool {
            switch self {
            case .unit, .set: return false
            case .concatenation(let items): return items.allSatisfy(\.nullable)
            case .alternation(let items): return items.contains(where: \.nullable)
            case .repetition(let body, let minimum, _, _): return minimum == 0 || body.nullable
            case .lookahead, .lineStart, .lineEnd, .wordBoundary: return true
            }
        }

        /// A superset of the units a non-empty match can start with.
        var firstUnits: UnitSet {
            var result = UnitSet()
            switch self {
            case .unit(let unit): result.insert(unit...unit)
            case .set(let set):
                if set.negated { result.insert(0...0x10FFFF) } else { result = set }
            case .concatenation(let items):
                for item in items {
                    result.formUnion(item.firstUnits)
                    if !item.nullable { break }
                }
            case .alternation(let items): for item in items { result.formUnion(item.firstUnits) }
            case .repetition(let body, _, _, _): result = body.firstUnits
            case .lookahead, .lineStart, .lineEnd, .wordBoundary: break
            }
            return result
        }
    }

    static func compile(_ node: Node, into program: inout [Instruction], pattern: String) throws(TokenizerError) {
        switch node {
        case .unit(let unit): program.append(.unit(unit))
        case .set(let set): program.append(.set(set))
        case .concatenation(let items):
            for item in items { try compile(item, into: &program, pattern: pattern) }
        case .alternation(let items):
            var jumps: [Int] = []
            for (index, item) in items.enumerated() {
                if index < items.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, -1))
                    try compile(item, into: &program, pattern: pattern)
                    jumps.append(program.count)
                    program.append(.jump(-1))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try compile(item, into: &program, pattern: pattern)
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repetition(let body, let minimum, let maximum, let greedy):
            if body.nullable && maximum != minimum {
                throw TokenizerError.unsupportedPattern(pattern: pattern, reason: "a repeated group that can match nothing")
            }
            for _ in 0..<minimum { try compile(body, into: &program, pattern: pattern) }
            if let maximum {
                var splits: [Int] = []
                for _ in minimum..<max(minimum, maximum) {
                    splits.append(program.count)
                    program.append(.split(-1, -1))
                    try compile(body, into: &program, pattern: pattern)
                }
                for split in splits {
                    program[split] = greedy ? .split(split + 1, program.count) : .split(program.count, split + 1)
                }
            } else {
                let loop = program.count
                program.append(.split(-1, -1))
                try compile(body, into: &program, pattern: pattern)
                program.append(.jump(loop))
                program[loop] = greedy ? .split(loop + 1, program.count) : .split(program.count, loop + 1)
            }
        case .lookahead(let body, let negated):
            var inner: [Instruction] = []
            try compile(body, into: &inner, pattern: pattern)
            inner.append(.match)
            program.append(.lookahead(negated: negated, program: inner))
        case .lineStart: program.append(.lineStart)
        case .lineEnd: program.append(.lineEnd)
        case .wordBoundary(let negated): program.append(.wordBoundary(negated: negated))
        }
    }

    struct Parser {
        let pattern: String
        let scalars: [UInt32]
        var index = 0
        var usesCategories = false

        init(pattern: String) {
            self.pattern = pattern
            self.scalars = pattern.unicodeScalars.map(\.value)
        }

        func failure(_ reason: String) -> TokenizerError {
            .unsupportedPattern(pattern: pattern, reason: reason)
        }

        var current: UInt32? { index < scalars.count ? scalars[index] : nil }

        mutating func parseAll() throws(TokenizerError) -> Node {
            let node = try parseAlternation()
            guard index == scalars.count else { throw failure("an unmatched ')' at position \(index)") }
            if usesCategories, scalars.contains(where: { $0 >= 128 }) {
                throw failure("both Unicode categories and non-ASCII characters, which llama.cpp rejects")
            }
            return node
        }

        mutating func parseAlternation() throws(TokenizerError) -> Node {
            var branches = [try parseConcatenation()]
            while current == 0x7C {  // |
                index += 1
                branches.append(try parseConcatenation())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func parseConcatenation() throws(TokenizerError) -> Node {
            var items: [Node] = []
            while let scalar = current, scalar != 0x7C, scalar != 0x29 {  // | )
                items.append(try parseQuantified())
            }
            return items.count == 1 ? items[0] : .concatenation(items)
        }

        mutating func parseQuantified() throws(TokenizerError) -> Node {
            var node = try parseAtom()
            while let scalar = current {
                var bounds: (Int, Int?)
                switch scalar {
                case 0x2A: bounds = (0, nil); index += 1  // *
                case 0x2B: bounds = (1, nil); index += 1  // +
                case 0x3F: bounds = (0, 1); index += 1  // ?
                case 0x7B:  // {
                    guard let counted = parseBraces() else { return node }
                    bounds = counted
                default: return node
                }
                var greedy = true
                if current == 0x3F { greedy = false; index += 1 }
                node = .repetition(node, minimum: bounds.0, maximum: bounds.1, greedy: greedy)
            }
            return node
        }

        /// `{n}`, `{n,}` or `{n,m}`; nil (and nothing consumed) when the brace is a literal.
        mutating func parseBraces() -> (Int, Int?)? {
            var cursor = index + 1
            func number() -> Int? {
                var value: Int?
                while cursor < scalars.count, (0x30...0x39).contains(scalars[cursor]) {
                    value = (value ?? 0) * 10 + Int(scalars[cursor] - 0x30)
                    cursor += 1
                }
                return value
            }
            guard let minimum = number() else { return nil }
            var maximum: Int? = minimum
            if cursor < scalars.count, scalars[cursor] == 0x2C {  // ,
                cursor += 1
                maximum = number()
            }
            guard cursor < scalars.count, scalars[cursor] == 0x7D else { return nil }
            index = cursor + 1
            return (minimum, maximum)
        }

        mutating func parseAtom() throws(TokenizerError) -> Node {
            guard let scalar = current else { throw failure("an unexpected end") }
            index += 1
            switch scalar {
            case 0x28:  // (
                var negated: Bool?
                if current == 0x3F {  // ?
                    guard index + 1 < scalars.count else { throw failure("an unfinished group") }
                    switch scalars[index + 1] {
                    case 0x3A: break  // (?:
                    case 0x3D: negated = false  // (?=
                    case 0x21: negated = true  // (?!
                    default: throw failure("a group kind other than (?: (?= (?!")
                    }
                    index += 2
                }
                let body = try parseAlternation()
                guard current == 0x29 else { throw failure("a missing ')'") }
                index += 1
                if let negated { return .lookahead(body, negated: negated) }
                return body
            case 0x5B: return .set(try parseClass())  // [
            case 0x5C: return try parseEscape(inClass: false)  // backslash
            case 0x2E:  // .
                var set = UnitSet()
                for range: ClosedRange<UInt32> in [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029] { set.insert(range) }
                set.negated = true
                return .set(set)
            case 0x5E: return .lineStart
            case 0x24: return .lineEnd
            default: return .unit(scalar)
            }
        }

        mutating func parseClass() throws(TokenizerError) -> UnitSet {
            var set = UnitSet()
            if current == 0x5E { set.negated = true; index += 1 }
            while let scalar = current, scalar != 0x5D {
                var low: UInt32
                if scalar == 0x5C {
                    index += 1
                    switch try parseEscape(inClass: true) {
                    case .unit(let unit): low = unit
                    case .set(let inner):
                        guard !inner.negated else { throw failure("a negated escape inside a class") }
                        set.formUnion(inner)
                        continue
                    default: throw failure("an escape that is not allowed in a class")
                    }
                } else {
                    low = scalar
                    index += 1
                }
                if current == 0x2D, index + 1 < scalars.count, scalars[index + 1] != 0x5D {  // a-b
                    index += 1
                    var high = scalars[index]
                    index += 1
                    if high == 0x5C {
                        guard case .unit(let unit) = try parseEscape(inClass: true) else {
                            throw failure("a class range that ends in a class")
                        }
                        high = unit
                    }
                    guard low <= high else { throw failure("a reversed range") }
                    set.insert(low...high)
                } else {
                    set.insert(low...low)
                }
            }
            guard current == 0x5D else { throw failure("a missing ']'") }
            index += 1
            return set
        }
    
        mutating func parseEscape(inClass: Bool) throws(TokenizerError) -> Node {
            guard let scalar = current else { throw failure("a trailing backslash") }
            index += 1
            var set = UnitSet()
            switch scalar {
            case 0x73, 0x53:  // s S
                set.insert(0x09...0x0D)
                set.insert(0x20...0x20)
                set.negated = scalar == 0x53
            case 0x64, 0x44:  // d D
                set.insert(0x30...0x39)
                set.negated = scalar == 0x44
            case 0x77, 0x57:  // w W
                for range: ClosedRange<UInt32> in [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A] { set.insert(range) }
                set.negated = scalar == 0x57
            case 0x62 where !inClass: return .wordBoundary(negated: false)  // b
            case 0x42 where !inClass: return .wordBoundary(negated: true)  // B
            case 0x62: return .unit(0x08)
            case 0x70:  // p{Name}
                guard current == 0x7B, let close = scalars[index...].firstIndex(of: 0x7D) else {
                    throw failure("a malformed \\p{...}")
                }
                let name = String(String.UnicodeScalarView(scalars[(index + 1)..<close].compactMap(Unicode.Scalar.init)))
                index = close + 1
                guard let category = Self.categorySet(name) else { throw failure("the unknown category \\p{\(name)}") }
                usesCategories = true
                set = category
            case 0x6E: return .unit(0x0A)  // n
            case 0x72: return .unit(0x0D)  // r
            case 0x74: return .unit(0x09)  // t
            case 0x66: return .unit(0x0C)  // f
            case 0x76: return .unit(0x0B)  // v
            case 0x30: return .unit(0x00)  // 0
            case 0x78, 0x75:  // xHH uHHHH
                let digits = scalar == 0x78 ? 2 : 4
                guard index + digits <= scalars.count else { throw failure("a short hex escape") }
                var value: UInt32 = 0
                for digit in scalars[index..<(index + digits)] {
                    guard let nibble = Character(Unicode.Scalar(digit) ?? "g").hexDigitValue else {
                        throw failure("a bad hex escape")
                    }
                    value = value * 16 + UInt32(nibble)
                }
                index += digits
                return .unit(value)
            default: return .unit(scalar)
            }
            return .set(set)
        }

        /// A category as llama.cpp's collapsed regex sees it: its collapsed byte plus its ASCII
        /// members.
        static func categorySet(_ name: String) -> UnitSet? {
            var set = UnitSet()
            let ranges: [ClosedRange<UInt32>]
            switch name {
            case "N": ranges = [0xD1...0xD1, 0x30...0x39]
            case "L", "Lu", "Ll", "Lt", "Lm", "Lo": ranges = [0xD2...0xD2, 0x41...0x5A, 0x61...0x7A]
            case "P":
                ranges = [0xD3...0xD3, 0x21...0x23, 0x25...0x2A, 0x2C...0x2F, 0x3A...0x3B, 0x3F...0x40,
                          0x5B...0x5D, 0x5F...0x5F, 0x7B...0x7B, 0x7D...0x7D]
            case "M": ranges = [0xD4...0xD4]
            case "S": ranges = [0xD5...0xD5, 0x24...0x24, 0x2B...0x2B, 0x3C...0x3E, 0x5E...0x5E, 0x60...0x60,
                                0x7C...0x7C, 0x7E...0x7E]
            default: return nil
            }
            for range in ranges { set.insert(range) }
            return set
        }
    }
}
