#include "cmemory.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int learning_release_free_memory(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

void learning_limit_allocator_arenas(int arenas) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;
#endif
}
