// The C allocator's controls the service needs: a thin wrapper, so Swift code never touches
// <malloc.h> itself.
#ifndef CMEMORY_H
#define CMEMORY_H

/// Returns freed heap memory to the system (glibc's malloc_trim); 1 when some was released.
int learning_release_free_memory(void);

#endif
