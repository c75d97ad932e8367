#ifndef RUNLEDGER_LEDGER_NATIVE_H
#define RUNLEDGER_LEDGER_NATIVE_H

// The SDK's few needs that Swift cannot reach from its standard modules.

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) of `count` bytes: the CPU's crc32 instruction where there is one, slicing-by-8 elsewhere.
uint32_t runledger_crc32c(const void *bytes, size_t count);

/// The CRC-32C of a text continued by `count` more bytes, given the CRC-32C `crc` of the text so far (0 for none):
/// a checksum computed piece by piece, as a file streams.
uint32_t runledger_crc32c_update(uint32_t crc, const void *bytes, size_t count);

/// Gives memory the allocator keeps for reuse back to the system (glibc's malloc_trim; nothing elsewhere).
void runledger_release_free_memory(void);

#endif
