// The C allocator's controls the service needs: a thin wrapper, so Swift code never touches
// <malloc.h> itself.
#ifndef CMEMORY_H
#define CMEMORY_H

/// Returns freed heap memory to the system (glibc's malloc_trim); 1 when some was released.
int learning_release_free_memory(void);

/// Caps the allocator's arenas (glibc's M_ARENA_MAX; its default is 8 per core, and each
/// arena keeps what its threads freed). Call before threads start.
void learning_limit_allocator_arenas(int arenas);

#endif
