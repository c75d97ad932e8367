// Every spooled byte is checksummed on the writer's thread, and when the caller outruns the store the spill path has
// to keep up with the caller: at 1.3 GB/s (slicing-by-8 in Swift) the checksum alone cost ~25 ns per 32-byte point,
// more than a log call. SSE4.2's crc32 instruction computes CRC-32C directly (7.7 GB/s measured here); Swift cannot
// reach it, hence this file. Other CPUs get the same slicing-by-8 table code.
#include "ledger_native.h"

#include <pthread.h>
#include <string.h>

static uint32_t tables[8][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t index = 0; index < 256; index++) {
        uint32_t crc = index;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        tables[0][index] = crc;
    }
    for (int index = 0; index < 256; index++) {
        for (int slice = 1; slice < 8; slice++) {
            tables[slice][index] = (tables[slice - 1][index] >> 8) ^ tables[0][tables[slice - 1][index] & 0xff];
        }
    }
}

static uint32_t software(uint32_t crc, const uint8_t *bytes, size_t count) {
    pthread_once(&tables_once, build_tables);
    while (count >= 8) {
        uint32_t low;
        memcpy(&low, bytes, 4);
        low ^= crc;
        crc = tables[7][low & 0xff] ^ tables[6][(low >> 8) & 0xff] ^ tables[5][(low >> 16) & 0xff] ^ tables[4][low >> 24]
            ^ tables[3][bytes[4]] ^ tables[2][bytes[5]] ^ tables[1][bytes[6]] ^ tables[0][bytes[7]];
        bytes += 8;
        count -= 8;
    }
    while (count--) crc = tables[0][(crc ^ *bytes++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t hardware(uint32_t crc, const uint8_t *bytes, size_t count) {
    uint64_t wide = crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);  // little-endian, as the checksum's definition reads bytes
        wide = __builtin_ia32_crc32di(wide, word);
        bytes += 8;
        count -= 8;
    }
    uint32_t narrow = (uint32_t)wide;
    while (count--) narrow = __builtin_ia32_crc32qi(narrow, *bytes++);
    return narrow;
}
#endif

uint32_t runledger_crc32c(const void *bytes, size_t count) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return hardware(0xFFFFFFFFu, bytes, count) ^ 0xFFFFFFFFu;
#endif
    return software(0xFFFFFFFFu, bytes, count) ^ 0xFFFFFFFFu;
}

uint32_t runledger_crc32c_update(uint32_t crc, const void *bytes, size_t count) {
    uint32_t state = crc ^ 0xFFFFFFFFu;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return hardware(state, bytes, count) ^ 0xFFFFFFFFu;
#endif
    return software(state, bytes, count) ^ 0xFFFFFFFFu;
}
