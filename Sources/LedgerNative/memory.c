// glibc keeps freed heap memory for reuse; after a burst the writer hands it back (see WriterLoop).
#include "ledger_native.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void runledger_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
