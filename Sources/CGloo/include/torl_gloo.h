// A C face for the few Gloo operations torl's data-parallel training uses: forming a process group from a
// rendezvous store, and all-reduces of flat buffers. Gloo is C++; Swift sees only this header.
#ifndef TORL_GLOO_H
#define TORL_GLOO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct torl_gloo_group torl_gloo_group;

// Where the ranks meet: a folder every rank can reach (a shared file system), or a TCP store served by the
// driver (line protocol in docs/CLUSTER.md: SET/GET/WAIT with base64 values).
typedef enum { TORL_GLOO_STORE_FILE = 0, TORL_GLOO_STORE_TCP = 1 } torl_gloo_store_kind;

// Forms the group `prefix` of `size` ranks as rank `rank`: every rank publishes the address of its TCP device
// (bound to `hostname`) under `prefix` in the store and connects to every other. Blocks until all ranks have
// joined or `timeout_seconds` passes. On failure returns NULL and writes a message into `error`.
torl_gloo_group *torl_gloo_connect(torl_gloo_store_kind kind, const char *store_address, const char *prefix,
                                   int rank, int size, const char *hostname, double timeout_seconds,
                                   char *error, size_t error_size);
void torl_gloo_close(torl_gloo_group *group);
int torl_gloo_rank(const torl_gloo_group *group);
int torl_gloo_size(const torl_gloo_group *group);

// In-place all-reduces; every rank passes the same count. Each returns 0, or -1 with a message in `error`
// (a lost peer or the timeout). Every rank ends with the same bits (Gloo reduces each segment once and
// sends the result to all).
int torl_gloo_allreduce_sum_f32(torl_gloo_group *group, float *values, size_t count, char *error, size_t error_size);
int torl_gloo_allreduce_sum_f64(torl_gloo_group *group, double *values, size_t count, char *error, size_t error_size);
int torl_gloo_allreduce_max_f64(torl_gloo_group *group, double *values, size_t count, char *error, size_t error_size);
int torl_gloo_allreduce_min_u64(torl_gloo_group *group, uint64_t *values, size_t count, char *error, size_t error_size);
int torl_gloo_allreduce_max_u64(torl_gloo_group *group, uint64_t *values, size_t count, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
