/// Splits a SQL script into its statements, for drivers that run one statement per call (PostgreSQL's extended
/// query protocol, which PostgresNIO speaks, refuses several commands in one query).
///
/// Semicolons inside quotes, quoted identifiers, dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`), `E'…'` strings
/// and comments do not end a statement. Empty statements and comment-only tails are dropped.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let scalars = Array(script.unicodeScalars)
        var statements: [String] = []
        var start = 0
        var index = 0
        var hasCode = false

        func finish(_ end: Int) {
            if hasCode {
                var text = String.UnicodeScalarView()
                text.append(contentsOf: scalars[start..<end])
                let statement = String(text).trimmingSQLWhitespace()
                if !statement.isEmpty { statements.append(statement) }
            }
            hasCode = false
        }

        while index < scalars.count {
            let scalar = scalars[index]
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch scalar {
            case "-" where next == "-":
                while index < scalars.count && scalars[index] != "\n" { index += 1 }
                continue
            case "/" where next == "*":
                // PostgreSQL's block comments nest.
                var depth = 0
                repeat {
                    if scalars[index] == "/" && index + 1 < scalars.count && scalars[index + 1] == "*" {
                        depth += 1
                        index += 2
                    } else if scalars[index] == "*" && index + 1 < scalars.count && scalars[index + 1] == "/" {
                        depth -= 1
                        index += 2
                    } else {
                        index += 1
                    }
                } while depth > 0 && index < scalars.count
                continue
            case "'", "\"":
                hasCode = true
                let escapes = scalar == "'" && index > 0 && (scalars[index - 1] == "E" || scalars[index - 1] == "e")
                index += 1
                while index < scalars.count {
                    if escapes && scalars[index] == "\\" {
                        index += 2
                        continue
                    }
                    if scalars[index] == scalar {
                        // A doubled quote is an escaped quote, not the end.
                        if index + 1 < scalars.count && scalars[index + 1] == scalar {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                index += 1
                continue
            case "$":
                hasCode = true
                if let tagEnd = dollarTagEnd(scalars, from: index) {
                    let tag = Array(scalars[index...tagEnd])
                    index = tagEnd + 1
                    while index < scalars.count {
                        if scalars[index] == "$" && index + tag.count <= scalars.count && Array(scalars[index..<index + tag.count]) == tag {
                            index += tag.count
                            break
                        }
                        index += 1
                    }
                    if index > scalars.count { index = scalars.count }
                    continue
                }
            case ";":
                finish(index)
                start = index + 1
                index += 1
                continue
            default:
                if !scalar.properties.isWhitespace { hasCode = true }
            }
            index += 1
        }
        finish(scalars.count)
        return statements
    }

    /// The index of the `$` closing a dollar-quote tag that opens at `start` (`$$` or `$tag$`), or nil for `$1`.
    private static func dollarTagEnd(_ scalars: [Unicode.Scalar], from start: Int) -> Int? {
        // `a$b` continues an identifier; `$1` is a parameter: neither opens a quote.
        if start > 0, scalars[start - 1].properties.isAlphabetic || scalars[start - 1] == "_" || ("0"..."9").contains(scalars[start - 1]) {
            return nil
        }
        var index = start + 1
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "$" { return index }
            let isTagCharacter = scalar.properties.isAlphabetic || scalar == "_" || (index > start + 1 && ("0"..."9").contains(scalar))
            guard isTagCharacter else { return nil }
            index += 1
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingSQLWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
