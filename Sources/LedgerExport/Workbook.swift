public import Foundation
import ZIPFoundation

extension RunTable {
    /// An Office Open XML workbook (.xlsx) with one sheet, "Runs": a frozen header row, metrics as numbers (NaN and
    /// infinities as text, which a spreadsheet cannot hold as numbers), start and end times as epoch milliseconds.
    public func xlsx() throws -> Data {
        let archive = try Archive(accessMode: .create)
        for (path, bytes) in [
            ("[Content_Types].xml", Workbook.contentTypes), ("_rels/.rels", Workbook.packageRelationships), ("xl/workbook.xml", Workbook.workbook),
            ("xl/_rels/workbook.xml.rels", Workbook.workbookRelationships), ("xl/styles.xml", Workbook.styles),
            ("xl/worksheets/sheet1.xml", sheetXML()),
        ] {
            let data = Data(bytes)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let data = archive.data else { throw CocoaError(.fileWriteUnknown) }
        return data
    }

    private func sheetXML() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + rows.count * columns.count * 24)
        out.append(contentsOf: Workbook.sheetHeader)
        func row(_ number: Int, _ cells: [Cell], style: Int) {
            out.append(contentsOf: "<row r=\"\(number)\">".utf8)
            for (index, cell) in cells.enumerated() {
                let reference = Workbook.columnName(index) + String(number)
                let styleAttribute = style == 0 ? "" : " s=\"\(style)\""
                switch cell {
                // An empty text is no different from no value in a sheet: both are left out.
                case .empty, .text(""): continue
                case .integer(let value): out.append(contentsOf: "<c r=\"\(reference)\"\(styleAttribute)><v>\(value)</v></c>".utf8)
                case .number(let value) where value.isFinite:
                    out.append(contentsOf: "<c r=\"\(reference)\"\(styleAttribute)><v>\(value)</v></c>".utf8)
                case .number, .text:
                    out.append(contentsOf: "<c r=\"\(reference)\" t=\"inlineStr\"\(styleAttribute)><is><t xml:space=\"preserve\">".utf8)
                    Workbook.escape(cell.text, into: &out)
                    out.append(contentsOf: "</t></is></c>".utf8)
                }
            }
            out.append(contentsOf: "</row>".utf8)
        }
        row(1, columns.map(Cell.text), style: 1)
        for (index, cells) in rows.enumerated() { row(index + 2, cells, style: 0) }
        out.append(contentsOf: "</sheetData></worksheet>".utf8)
        return out
    }
}

/// The fixed parts of a one-sheet workbook (ECMA-376), and the text rules of its XML.
enum Workbook {
    static let declaration = #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#
    static let contentTypes = Array(
        (declaration + """
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
            <Default Extension="xml" ContentType="application/xml"/>\
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
            <Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\
            <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
            </Types>
            """).utf8)
    static let packageRelationships = Array(
        (declaration + """
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>\
            </Relationships>
            """).utf8)
    static let workbook = Array(
        (declaration + """
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
            xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
            <sheets><sheet name="Runs" sheetId="1" r:id="rId1"/></sheets></workbook>
            """).utf8)
    static let workbookRelationships = Array(
        (declaration + """
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>\
            <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>\
            </Relationships>
            """).utf8)
    /// Style 1 is the bold header.
    static let styles = Array(
        (declaration + """
            <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">\
            <fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>\
            <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>\
            <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
            <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
            <cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
            <xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>\
            <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
            </styleSheet>
            """).utf8)
    static let sheetHeader = Array(
        (declaration + """
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">\
            <sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>\
            <sheetData>
            """).utf8)

    /// A, B, …, Z, AA, AB, …
    static func columnName(_ index: Int) -> String {
        var index = index + 1
        var name: [Character] = []
        while index > 0 {
            let remainder = (index - 1) % 26
            name.insert(Character(Unicode.Scalar(UInt8(65 + remainder))), at: 0)
            index = (index - 1) / 26
        }
        return String(name)
    }

    /// XML text: markup characters escaped; characters XML 1.0 cannot hold at all (most C0 controls, lone
    /// surrogates cannot occur in a Swift String) replaced by U+FFFD so that one odd tag value cannot spoil the file.
    static func escape(_ text: String, into out: inout [UInt8]) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out.append(contentsOf: "&amp;".utf8)
            case "<": out.append(contentsOf: "&lt;".utf8)
            case ">": out.append(contentsOf: "&gt;".utf8)
            case "\"": out.append(contentsOf: "&quot;".utf8)
            case "\t", "\n": out.append(UInt8(scalar.value))
            // A raw CR would be read back as a line feed: XML normalises line ends.
            case "\r": out.append(contentsOf: "&#13;".utf8)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                out.append(contentsOf: "\u{FFFD}".utf8)
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
    }
}
