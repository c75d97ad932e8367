/// A token of the filter language with the 1-based column where it starts.
struct Token: Equatable {
    enum Kind: Equatable {
        /// `prefix.key`, or a bare word; `quoted` when the key was written in backticks or double quotes.
        case identifier(prefix: String?, key: String)
        case string(String)
        case number(Double)
        case keyword(String)
        case symbol(String)
        case end
    }
    var kind: Kind
    var column: Int
}

/// Splits filter and order-by text into tokens. Keywords are case-insensitive.
struct Lexer {
    static let keywords: Set<String> = ["AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "ASC", "DESC"]

    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    static func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic
    }

    static func isIdentifierScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "_", "-", ".", "/", ":": true
        default: scalar.properties.isAlphabetic || scalar.properties.numericType != nil
        }
    }

    mutating func tokenize() throws(LedgerError) -> [Token] {
        var tokens: [Token] = []
        while true {
            let token = try next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private var column: Int { index + 1 }

    private mutating func next() throws(LedgerError) -> Token {
        while index < scalars.count, scalars[index].properties.isWhitespace { index += 1 }
        guard index < scalars.count else { return Token(kind: .end, column: column) }
        let start = column
        let scalar = scalars[index]
        switch scalar {
        case "(", ")", ",":
            index += 1
            return Token(kind: .symbol(String(scalar)), column: start)
        case "=":
            index += 1
            if peek == "=" { index += 1 }  // `==` is accepted as a synonym of `=`
            return Token(kind: .symbol("="), column: start)
        case "!", "<", ">":
            index += 1
            if peek == "=" {
                index += 1
                return Token(kind: .symbol(String(scalar) + "="), column: start)
            }
            if scalar == "<", peek == ">" {
                index += 1
                return Token(kind: .symbol("!="), column: start)
            }
            if scalar == "!" {
                throw LedgerError(.malformedQuery, "Unexpected '!' at column \(start): expected '!=' .", column: start)
            }
            return Token(kind: .symbol(String(scalar)), column: start)
        case "'", "\"", "`":
            let text = try quoted(by: scalar)
            // A quoted word directly before `.` is a quoted entity prefix; otherwise a string (or a bare quoted key).
            return Token(kind: scalar == "`" ? .identifier(prefix: nil, key: text) : .string(text), column: start)
        case "0"..."9", "-", "+", ".":
            return Token(kind: .number(try number()), column: start)
        default:
            guard Lexer.isIdentifierStart(scalar) else {
                throw LedgerError(
                    .malformedQuery,
                    "Unexpected character '\(scalar)' at column \(start): expected a key such as metrics.total_cost, a value, or an operator.",
                    column: start
                )
            }
            return try word(start: start)
        }
    }

    private var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func quoted(by quote: Unicode.Scalar) throws(LedgerError) -> String {
        let start = column
        index += 1
        var text = String.UnicodeScalarView()
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if scalar == quote {
                if peek == quote {  // a doubled quote stands for one quote character
                    text.append(quote)
                    index += 1
                    continue
                }
                return String(text)
            }
            if scalar == "\0" {
                throw LedgerError(
                    .malformedQuery, "Quoted text at column \(start) contains U+0000 (NUL), which no stored value holds.", column: start)
            }
            text.append(scalar)
        }
        throw LedgerError(.malformedQuery, "Unterminated quoted text starting at column \(start): expected a closing \(quote).", column: start)
    }

    private mutating func number() throws(LedgerError) -> Double {
        let start = column
        var text = ""
        while let scalar = peek, "0123456789+-.eE".unicodeScalars.contains(scalar) {
            // A sign is part of the number only at its start or right after an exponent.
            if scalar == "-" || scalar == "+", !text.isEmpty, !(text.hasSuffix("e") || text.hasSuffix("E")) { break }
            text.unicodeScalars.append(scalar)
            index += 1
        }
        guard let value = Double(text), value.isFinite else {
            throw LedgerError(
                .malformedQuery, "Invalid number '\(text)' at column \(start): expected a number such as 42, -0.5 or 1e6.", column: start)
        }
        return value
    }

    private mutating func word(start: Int) throws(LedgerError) -> Token {
        var text = String.UnicodeScalarView()
        while let scalar = peek, Lexer.isIdentifierScalar(scalar) {
            text.append(scalar)
            index += 1
            // `metrics."my key"` and metrics.`my key`: a quoted key right after the prefix's dot.
            if scalar == ".", text.count > 1, let quote = peek, quote == "\"" || quote == "`" {
                let prefix = String(String.UnicodeScalarView(text.dropLast()))
                return Token(kind: .identifier(prefix: prefix, key: try quoted(by: quote)), column: start)
            }
        }
        let word = String(text)
        if Lexer.keywords.contains(word.uppercased()) { return Token(kind: .keyword(word.uppercased()), column: start) }
        // Split by scalars: a key that starts with a combining mark forms one Character with the dot before it.
        guard let dot = text.firstIndex(of: ".") else { return Token(kind: .identifier(prefix: nil, key: word), column: start) }
        return Token(kind: .identifier(prefix: String(text[..<dot]), key: String(text[text.index(after: dot)...])), column: start)
    }
}
