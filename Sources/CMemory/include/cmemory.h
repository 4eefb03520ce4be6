// The C allocator's controls the service needs: a thin wrapper, so Swift code never touches
// <malloc.h> itself.
#ifndef CMEMORY_H
#define CMEMORY_H

/// Returns freed heap memory to the system (glibc's malloc_trim); 1 when some was released.
int learning_release_free_memory(void);

/// Caps the allocator's arenas (glibc's M_ARENA_MAX; its default is 8 per core, and each
/// arena keeps what its threads freed). Call before threads start.
void learning_limit_allocator_arenas(int arenas);

/// Bytes the allocator has handed out and not had back (glibc's mallinfo2: uordblks + hblkhd);
/// -1 where unknown.
long long learning_allocated_bytes(void);

/// Bytes the allocator holds free (mallinfo2's fordblks); -1 where unknown.
long long learning_allocator_free_bytes(void);

#endif
