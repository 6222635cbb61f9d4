/// What the token pass removed that the comparison still needs to know.
struct AnswerMarks: Equatable, Sendable {
    /// The answer was written as a percentage (`50\%`, `50 percent`).
    var isPercent = false
    /// The answer carried a degree sign (`120^\circ`) or the word degrees.
    var isDegrees = false
}

/// Token-level clean-up before parsing: degree signs, percent signs, units (in `\text{}` or as trailing words),
/// thousands separators and prose connectives. Working on tokens rather than strings keeps `\text{m}` apart from
/// the variable `m`.
enum TokenNormalizer {
    /// Unit and filler words dropped when they follow a quantity. Single letters are units only inside `\text{}`.
    static let unitWords: Set<String> = [
        "cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter", "centimeters", "kilometers",
        "inch", "inches", "in", "ft", "foot", "feet", "yard", "yards", "yd", "mile", "miles", "mi",
        "unit", "units", "square", "sq", "cubic", "cents", "cent", "dollar", "dollars", "hour", "hours", "hr",
        "hrs", "minute", "minutes", "min", "mins", "second", "seconds", "sec", "s", "day", "days", "week", "weeks",
        "month", "months", "year", "years", "mph", "kg", "g", "gram", "grams", "pound", "pounds", "lb", "lbs",
        "ounce", "ounces", "oz", "gallon", "gallons", "liter", "liters", "litre", "litres", "ml", "l",
        "people", "students", "ways", "points", "times", "percent", "pct", "percentage", "percentages", "per",
        "degree", "degrees", "deg",
        "radians", "rad", "steps", "coins", "books", "marbles", "apples", "eggs", "pages",
    ]

    /// Words that mean a percent sign: `28 pct`, `28 percentage`, `28 per cent` (the unit loop joins "per cent").
    static let percentWords: Set<String> = ["percent", "pct", "percentage", "percentages", "%"]

    /// Words joining the items of a list: `$21, 16$ or $11$`, `1 and 2 and 3`.
    static let connectiveWords: Set<String> = ["or", "and"]

    static func normalize(_ input: [Token]) -> (tokens: [Token], marks: AnswerMarks) {
        var marks = AnswerMarks()
        var tokens = dropDegreeSigns(input, marks: &marks)
        tokens = dropPercentSigns(tokens, marks: &marks)
        tokens = handleProse(tokens, marks: &marks)
        tokens = joinConnectiveWords(tokens)
        tokens = dropTrailingUnitWords(tokens, marks: &marks)
        tokens = mergeThousands(tokens)
        return (tokens, marks)
    }

    private static let trigonometricCommands: Set<String> = ["sin", "cos", "tan", "cot", "sec", "csc"]

    /// `120^\circ` is the number 120 in an answer about an angle; inside `\sin 30^\circ` the degree sign is the
    /// factor π/180, because the function reads radians.
    private static func dropDegreeSigns(_ tokens: [Token], marks: inout AnswerMarks) -> [Token] {
        let convertsToRadians = tokens.contains { token in
            if case .command(let name) = token.kind { return trigonometricCommands.contains(name) }
            return false
        }
        let radiansPerDegree: [Token] = [
            .command("frac"), .openBrace, .command("pi"), .closeBrace, .openBrace, .number("180"), .closeBrace,
        ].map { Token(kind: $0, followsSpace: false) }
        var output: [Token] = []
        output.reserveCapacity(tokens.count)
        var index = 0
        while index < tokens.count {
            let kind = tokens[index].kind
            if kind == .caret, index + 1 < tokens.count, tokens[index + 1].kind == .command("circ") {
                marks.isDegrees = true
                index += 2
            } else if kind == .caret, index + 3 < tokens.count, tokens[index + 1].kind == .openBrace,
                      tokens[index + 2].kind == .command("circ"), tokens[index + 3].kind == .closeBrace {
                marks.isDegrees = true
                index += 4
            } else if kind == .command("circ") || kind == .command("degree") {
                marks.isDegrees = true
                index += 1
            } else {
                output.append(tokens[index])
                index += 1
                continue
            }
            if convertsToRadians { output.append(contentsOf: radiansPerDegree) }
        }
        return output
    }

    private static func dropPercentSigns(_ tokens: [Token], marks: inout AnswerMarks) -> [Token] {
        guard tokens.contains(where: { $0.kind == .percent }) else { return tokens }
        marks.isPercent = true
        return tokens.filter { $0.kind != .percent }
    }

    /// `\text{}` next to mathematics is a unit or a connective; `\text{}` alone is the answer itself.
    private static func handleProse(_ tokens: [Token], marks: inout AnswerMarks) -> [Token] {
        let hasMathematics = tokens.contains { token in
            if case .text = token.kind { return false }
            switch token.kind {
            case .openParen, .closeParen, .openBrace, .closeBrace: return false
            default: return true
            }
        }
        guard hasMathematics else { return tokens }
        var output: [Token] = []
        output.reserveCapacity(tokens.count)
        var index = 0
        while index < tokens.count {
            guard case .text(let content) = tokens[index].kind else {
                output.append(tokens[index])
                index += 1
                continue
            }
            let word = String(content.lowercased().filter { $0 != "," && !$0.isWhitespace })
            let letters = content.filter { !$0.isWhitespace }
            if index + 1 < tokens.count, tokens[index + 1].kind == .equals, output.isEmpty || endsItem(output.last?.kind),
               !letters.isEmpty, letters.count <= 24, letters.utf8.allSatisfy(isLetter) {
                // `\text{Area} = 24`: a named quantity labelling the answer, spelled as letters like `AB = 4`.
                for letter in letters { output.append(Token(kind: .letter(letter), followsSpace: false)) }
                index += 1
                continue
            }
            let isConnective = connectiveWords.contains(word) || word.isEmpty && content.contains(",")
            if isConnective {
                // "2, 3, \text{ and } 4": the list already has its comma.
                if !endsItem(output.last?.kind) { output.append(Token(kind: .comma, followsSpace: true)) }
                index += 1
                continue
            }
            let next = skipUnitExponent(tokens, from: index + 1)
            guard isUnitPosition(after: output.last?.kind, before: next < tokens.count ? tokens[next].kind : nil) else {
                // Prose before or inside an expression (`\text{not } 5`) is not a unit: keep it, so the answer
                // does not parse and compares as text rather than as the number it mentions.
                output.append(tokens[index])
                index += 1
                continue
            }
            if percentWords.contains(word) { marks.isPercent = true }
            if word.hasPrefix("degree") { marks.isDegrees = true }
            index = next
        }
        return output
    }

    private static func endsItem(_ kind: TokenKind?) -> Bool {
        kind == .comma || kind == .semicolon
    }

    /// `$21, 16$ or $11$`, `(11,7) or (7,11)`: the words "or" and "and" standing alone between two items of
    /// mathematics are list commas. Inside a word or next to an operator they stay letters.
    private static func joinConnectiveWords(_ tokens: [Token]) -> [Token] {
        var output: [Token] = []
        output.reserveCapacity(tokens.count)
        var index = 0
        while index < tokens.count {
            var end = index
            while end < tokens.count, case .letter = tokens[end].kind, end == index || !tokens[end].followsSpace {
                end += 1
            }
            let word = String(tokens[index..<end].compactMap { token -> Character? in
                if case .letter(let letter) = token.kind { return letter }
                return nil
            })
            let standsAlone = end - index >= 2 && tokens[index].followsSpace && end < tokens.count
                && tokens[end].followsSpace
            if standsAlone, connectiveWords.contains(word.lowercased()), let previous = output.last?.kind,
               isValueEnd(previous) || endsItem(previous), startsValue(tokens[end].kind) {
                // "1, 2, and 3": the list already has its comma.
                if !endsItem(previous) { output.append(Token(kind: .comma, followsSpace: true)) }
                index = end
                continue
            }
            let stop = max(end, index + 1)
            output.append(contentsOf: tokens[index..<stop])
            index = stop
        }
        return output
    }

    private static func isValueEnd(_ kind: TokenKind) -> Bool {
        switch kind {
        case .number, .letter, .closeParen, .closeBracket, .closeBrace, .closeSet, .bang, .prime, .command("infty"):
            return true
        default:
            return false
        }
    }

    private static func startsValue(_ kind: TokenKind) -> Bool {
        switch kind {
        case .number, .letter, .openParen, .openBracket, .openBrace, .openSet, .minus, .command, .bar: return true
        default: return false
        }
    }

    /// A unit follows a quantity and ends an item: `5 \text{ cm}`, `5 \text{ cm}, 6 \text{ cm}`, `(5 \text{ cm})`.
    private static func isUnitPosition(after previous: TokenKind?, before following: TokenKind?) -> Bool {
        switch previous {
        case nil, .comma?, .semicolon?, .openParen?, .openBracket?, .openSet?, .openBrace?, .equals?, .plus?, .minus?, .times?,
             .divide?, .caret?:
            return false
        default:
            break
        }
        switch following {
        case nil, .comma?, .semicolon?, .closeParen?, .closeBracket?, .closeSet?, .closeBrace?, .text?: return true
        default: return false
        }
    }

    /// `cm^2`, `\text{ cm}^{3}`: the exponent belongs to the dropped unit.
    private static func skipUnitExponent(_ tokens: [Token], from start: Int) -> Int {
        guard start < tokens.count, tokens[start].kind == .caret else { return start }
        if start + 1 < tokens.count, case .number = tokens[start + 1].kind { return start + 2 }
        if start + 3 < tokens.count, tokens[start + 1].kind == .openBrace, case .number = tokens[start + 2].kind,
           tokens[start + 3].kind == .closeBrace {
            return start + 4
        }
        return start
    }

    /// "18 dollars", "5 square units", "864 inches^2": trailing words of two or more letters after a quantity.
    private static func dropTrailingUnitWords(_ tokens: [Token], marks: inout AnswerMarks) -> [Token] {
        var end = tokens.count
        var droppedWord = ""
        var changed = true
        while changed {
            changed = false
            var wordEnd = end
            if wordEnd >= 2, tokens[wordEnd - 2].kind == .caret, case .number = tokens[wordEnd - 1].kind {
                wordEnd -= 2
            }
            var wordStart = wordEnd
            while wordStart > 0, case .letter = tokens[wordStart - 1].kind {
                wordStart -= 1
                if tokens[wordStart].followsSpace { break }
            }
            guard wordEnd - wordStart >= 2, wordStart > 0, tokens[wordStart].followsSpace else { break }
            let word = String(tokens[wordStart..<wordEnd].compactMap { token -> Character? in
                if case .letter(let letter) = token.kind { return letter }
                return nil
            }).lowercased()
            guard unitWords.contains(word) else { break }
            if percentWords.contains(word) || word == "per" && droppedWord.hasPrefix("cent") { marks.isPercent = true }
            droppedWord = word
            if word.hasPrefix("degree") { marks.isDegrees = true }
            end = wordStart
            changed = true
        }
        return Array(tokens[0..<end])
    }

    /// `10,\!080` always; `7,425,000` when every group after the first has three digits, no spaces surround the
    /// commas, the first group has one to three digits without a leading zero, and it stands outside brackets
    /// (where `(0,100)` is an interval, not a number).
    private static func mergeThousands(_ tokens: [Token]) -> [Token] {
        var output: [Token] = []
        output.reserveCapacity(tokens.count)
        var depth = 0
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            switch token.kind {
            case .openParen, .openBracket, .openBrace, .openSet: depth += 1
            case .closeParen, .closeBracket, .closeBrace, .closeSet: depth -= 1
            default: break
            }
            guard case .number(let first) = token.kind else {
                output.append(token)
                index += 1
                continue
            }
            var digits = first
            var cursor = index + 1
            var groups: [(separatorIsExplicit: Bool, digits: String, followsSpace: Bool, commaFollowsSpace: Bool)] = []
            while cursor + 1 < tokens.count, case .number(let next) = tokens[cursor + 1].kind {
                let separator = tokens[cursor]
                if separator.kind == .thousandsSeparator {
                    groups.append((true, next, tokens[cursor + 1].followsSpace, separator.followsSpace))
                } else if separator.kind == .comma {
                    groups.append((false, next, tokens[cursor + 1].followsSpace, separator.followsSpace))
                } else {
                    break
                }
                cursor += 2
            }
            let firstGroupIsPlain = !first.contains(".") && first.count <= 3 && !first.hasPrefix("0")
            let everyGroupHasThreeDigits = groups.allSatisfy { group in
                let integerPart = group.digits.split(separator: ".", omittingEmptySubsequences: false)[0]
                return integerPart.count == 3
            }
            let plainCommasQualify = depth == 0 && groups.allSatisfy { !$0.followsSpace && !$0.commaFollowsSpace }
            let allExplicit = !groups.isEmpty && groups.allSatisfy { $0.separatorIsExplicit }
            if !groups.isEmpty && firstGroupIsPlain && everyGroupHasThreeDigits && (allExplicit || plainCommasQualify)
                && groups.dropLast().allSatisfy({ !$0.digits.contains(".") }) {
                for group in groups { digits += group.digits }
                output.append(Token(kind: .number(digits), followsSpace: token.followsSpace))
                index = cursor
            } else {
                // A run that is not one number stays a list as a whole: merging a tail of it ("1,2,345" into
                // 1 and 2345) would guess.
                output.append(contentsOf: tokens[index..<cursor])
                index = cursor
            }
        }
        return output
    }
}
