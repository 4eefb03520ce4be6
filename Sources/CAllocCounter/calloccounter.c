#include "calloccounter.h"
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <malloc.h>

// glibc's allocator under its internal names (exported by libc.so.6 since 2.2.5).
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

static long long live_bytes;
static long long total_bytes;
static long long total_blocks;
static long long peak_bytes;

static void counted_allocation(void *pointer) {
    if (pointer == NULL) return;
    long long size = (long long)malloc_usable_size(pointer);
    long long live = __atomic_add_fetch(&live_bytes, size, __ATOMIC_RELAXED);
    __atomic_add_fetch(&total_bytes, size, __ATOMIC_RELAXED);
    __atomic_add_fetch(&total_blocks, 1, __ATOMIC_RELAXED);
    long long peak = __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED);
    while (live > peak && !__atomic_compare_exchange_n(&peak_bytes, &peak, live, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

static void counted_release(void *pointer) {
    if (pointer == NULL) return;
    __atomic_sub_fetch(&live_bytes, (long long)malloc_usable_size(pointer), __ATOMIC_RELAXED);
}

void *malloc(size_t size) {
    void *pointer = __libc_malloc(size);
    counted_allocation(pointer);
    return pointer;
}

void *calloc(size_t count, size_t size) {
    void *pointer = __libc_calloc(count, size);
    counted_allocation(pointer);
    return pointer;
}

void *realloc(void *pointer, size_t size) {
    long long old = pointer == NULL ? 0 : (long long)malloc_usable_size(pointer);
    void *moved = __libc_realloc(pointer, size);
    if (moved == NULL) return NULL;  // (or size 0 with a pointer: freed)
    __atomic_sub_fetch(&live_bytes, old, __ATOMIC_RELAXED);
    counted_allocation(moved);
    return moved;
}

void free(void *pointer) {
    counted_release(pointer);
    __libc_free(pointer);
}

void *memalign(size_t alignment, size_t size) {
    void *pointer = __libc_memalign(alignment, size);
    counted_allocation(pointer);
    return pointer;
}

void *aligned_alloc(size_t alignment, size_t size) {
    return memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

void *valloc(size_t size) {
    return memalign(4096, size);
}

void *pvalloc(size_t size) {
    return memalign(4096, (size + 4095) & ~(size_t)4095);
}

long long alloc_counter_live_bytes(void) { return __atomic_load_n(&live_bytes, __ATOMIC_RELAXED); }
long long alloc_counter_total_bytes(void) { return __atomic_load_n(&total_bytes, __ATOMIC_RELAXED); }
long long alloc_counter_total_blocks(void) { return __atomic_load_n(&total_blocks, __ATOMIC_RELAXED); }
long long alloc_counter_peak_bytes(void) { return __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED); }

void alloc_counter_reset_peak(void) {
    __atomic_store_n(&peak_bytes, __atomic_load_n(&live_bytes, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

int alloc_counter_active(void) { return __atomic_load_n(&total_blocks, __ATOMIC_RELAXED) > 0; }
