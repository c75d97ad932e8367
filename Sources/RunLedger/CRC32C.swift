/// CRC-32C (Castagnoli), the checksum of spool records: detects torn and corrupted records.
/// Slicing-by-8: eight table lookups per 8 bytes, several times faster than byte-at-a-time, since every spooled
/// byte passes through here.
enum CRC32C {
    private static let tables: [[UInt32]] = {
        var tables = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][index] = crc
        }
        for index in 0..<256 {
            for slice in 1..<8 { tables[slice][index] = (tables[slice - 1][index] >> 8) ^ tables[0][Int(tables[slice - 1][index] & 0xff)] }
        }
        return tables
    }()

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            tables.withUnsafeBufferPointer { t in
                let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
                var crc: UInt32 = 0xFFFF_FFFF
                var index = 0
                let count = buffer.count
                while index + 8 <= count {
                    let low = crc ^ (UInt32(buffer[index]) | UInt32(buffer[index + 1]) << 8 | UInt32(buffer[index + 2]) << 16 | UInt32(buffer[index + 3]) << 24)
                    crc = t7[Int(low & 0xff)] ^ t6[Int((low >> 8) & 0xff)] ^ t5[Int((low >> 16) & 0xff)] ^ t4[Int(low >> 24)]
                        ^ t3[Int(buffer[index + 4])] ^ t2[Int(buffer[index + 5])] ^ t1[Int(buffer[index + 6])] ^ t0[Int(buffer[index + 7])]
                    index += 8
                }
                while index < count {
                    crc = t0[Int((crc ^ UInt32(buffer[index])) & 0xff)] ^ (crc >> 8)
                    index += 1
                }
                return crc ^ 0xFFFF_FFFF
            }
        }
    }
}
