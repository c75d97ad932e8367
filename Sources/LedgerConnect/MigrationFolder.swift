import Foundation
public import LedgerCore

extension MigrationFile {
    /// The `.sql` files of a folder, in name order; other files are ignored.
    /// - Throws: ``LedgerError`` when the folder cannot be read or a file is misnamed or not UTF-8.
    public static func folder(_ path: String) throws -> [MigrationFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            throw LedgerError(.invalidParameterValue, "Cannot read the migration folder '\(path)': it does not exist or is not a folder.")
        }
        return try names.map { name in
            let filePath = (path as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: filePath), let text = String(data: data, encoding: .utf8) else {
                throw LedgerError(.invalidParameterValue, "Cannot read migration file '\(filePath)' as UTF-8 text.")
            }
            return try MigrationFile(filename: name, contents: text)
        }
    }
}
