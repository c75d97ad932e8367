/// Interns metric keys for the hot path. Swift's `Dictionary<String, _>` hashes with seeded SipHash, which costs
/// more than the rest of a log call; metric keys are short and few, so FNV-1a over their UTF-8 bytes with open
/// addressing is enough, and several times cheaper.
struct KeyTable: Sendable {
    private(set) var keys: [String] = []
    /// Open addressing: slot + 1, or 0 for empty. Power-of-two capacity, kept at most half full.
    private var table = [Int32](repeating: 0, count: 64)
    private var hashes = [UInt64](repeating: 0, count: 64)

    /// The slot of `key`, adding it if new.
    mutating func slot(for key: String) -> Int32 {
        let hash = KeyTable.fnv1a(key)
        var index = Int(truncatingIfNeeded: hash) & (table.count - 1)
        while table[index] != 0 {
            let slot = table[index] - 1
            if hashes[index] == hash && keys[Int(slot)] == key { return slot }
            index = (index + 1) & (table.count - 1)
        }
        let slot = Int32(keys.count)
        keys.append(key)
        table[index] = slot + 1
        hashes[index] = hash
        if keys.count * 2 > table.count { grow() }
        return slot
    }

    private mutating func grow() {
        let old = zip(table, hashes).filter { $0.0 != 0 }
        table = [Int32](repeating: 0, count: table.count * 2)
        hashes = [UInt64](repeating: 0, count: table.count)
        for (entry, hash) in old {
            var index = Int(truncatingIfNeeded: hash) & (table.count - 1)
            while table[index] != 0 { index = (index + 1) & (table.count - 1) }
            table[index] = entry
            hashes[index] = hash
        }
    }

    static func fnv1a(_ key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return hash
        }
    }
}
