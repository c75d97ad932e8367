import LedgerNative

/// CRC-32C (Castagnoli), the checksum of spool records: detects torn and corrupted records.
/// The kernel is C because every spooled byte passes through it and only C reaches the CPU's crc32 instruction.
enum CRC32C {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return runledger_crc32c(nil, 0) }
        return runledger_crc32c(base, bytes.count)
    }
}

/// A CRC-32C computed piece by piece (a file read in chunks); equal to ``CRC32C/checksum(_:)-(UnsafeRawBufferPointer)`` of the whole.
struct CRC32CStream {
    private(set) var value: UInt32 = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        value = runledger_crc32c_update(value, base, bytes.count)
    }

    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
}
