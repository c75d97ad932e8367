import Foundation
import ZIPFoundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Reads a workbook back the way a spreadsheet would: the first sheet's rows as (cell type, text) in column order.
/// Independent of the writer: ZIPFoundation to unpack, Foundation's XMLParser to read.
enum XLSXReader {
    struct Cell: Equatable {
        var type: String?
        var text: String
    }

    static func rows(_ data: Data) throws -> [[Cell]] {
        let archive = try Archive(data: data, accessMode: .read)
        for required in ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"] {
            guard archive[required] != nil else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "no \(required)"]) }
        }
        guard let entry = archive["xl/worksheets/sheet1.xml"] else { throw CocoaError(.fileReadCorruptFile) }
        var xml = Data()
        _ = try archive.extract(entry) { xml.append($0) }
        let collector = Collector()
        let parser = XMLParser(data: xml)
        parser.delegate = collector
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.fileReadCorruptFile) }
        return collector.rows
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var rows: [[Cell]] = []
        private var cell: Cell?
        private var inText = false

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]
        ) {
            switch name {
            case "row": rows.append([])
            case "c": cell = Cell(type: attributes["t"], text: "")
            case "v", "t": inText = true
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inText { cell?.text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch name {
            case "v", "t": inText = false
            case "c":
                if let cell { rows[rows.count - 1].append(cell) }
                cell = nil
            default: break
            }
        }
    }
}
