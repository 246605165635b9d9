/*
 * The process's malloc and calloc calls, counted while switched on (malloc_counter.c): the benchmark's allocations
 * per message.
 */
#ifndef MALLOC_COUNTER_H
#define MALLOC_COUNTER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Switches counting on (on != 0) or off. */
void raw_malloc_counting(int on);

/* malloc and calloc calls counted so far (only while counting was on). */
unsigned long long raw_malloc_count(void);

#ifdef __cplusplus
}
#endif

#endif
