/*
 * Callgrind's client requests for the benchmark's bus-cpu row (callgrind_client.c): instructions counted between two
 * points of the program, whatever thread runs them. No-ops when the process does not run under valgrind, or when
 * valgrind's headers were missing at build time.
 */
#ifndef CALLGRIND_CLIENT_H
#define CALLGRIND_CLIENT_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the process runs under valgrind (and the build had valgrind's headers), else 0. */
int raw_callgrind_running(void);

/* Sets callgrind's counters of every thread to zero. */
void raw_callgrind_zero(void);

/* Writes callgrind's counters since the last zero or dump to the next part file (<out-file>.<n>), named by reason. */
void raw_callgrind_dump(const char *reason);

#ifdef __cplusplus
}
#endif

#endif
