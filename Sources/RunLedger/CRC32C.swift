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
