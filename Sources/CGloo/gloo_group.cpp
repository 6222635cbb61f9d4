// The process group behind torl_gloo.h: a Gloo full-mesh context over TCP, formed through a rendezvous store.
#include "torl_gloo.h"

#include <gloo/allreduce.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <sys/stat.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "tcp_store.h"

struct torl_gloo_group {
  std::shared_ptr<gloo::rendezvous::Context> context;
  std::chrono::milliseconds timeout;
  // Collectives run one at a time per group; each still gets its own tag so a late message of one cannot be
  // taken for the next.
  uint32_t nextTag = 0;
};

namespace {

void writeError(char *error, size_t size, const std::string &message) {
  if (error != nullptr && size > 0) std::snprintf(error, size, "%s", message.c_str());
}

template <typename T>
int allreduce(torl_gloo_group *group, T *values, size_t count, void (*reduce)(void *, const void *, const void *, size_t),
              char *error, size_t errorSize) {
  if (group == nullptr) {
    writeError(error, errorSize, "no process group");
    return -1;
  }
  if (count == 0 || group->context->size == 1) return 0;
  try {
    gloo::AllreduceOptions options(group->context);
    options.setOutput(values, count);
    options.setReduceFunction(reduce);
    options.setTag(group->nextTag++);
    options.setTimeout(group->timeout);
    gloo::allreduce(options);
    return 0;
  } catch (const std::exception &e) {
    writeError(error, errorSize, std::string("all-reduce failed: ") + e.what());
    return -1;
  }
}

}  // namespace

extern "C" {

torl_gloo_group *torl_gloo_connect(torl_gloo_store_kind kind, const char *store_address, const char *prefix, int rank,
                                   int size, const char *hostname, double timeout_seconds, char *error,
                                   size_t error_size) {
  if (size < 1 || rank < 0 || rank >= size) {
    writeError(error, error_size, "rank " + std::to_string(rank) + " is outside a group of " + std::to_string(size));
    return nullptr;
  }
  if (!(timeout_seconds > 0)) {
    writeError(error, error_size, "timeout_seconds must be positive");
    return nullptr;
  }
  try {
    auto timeout = std::chrono::milliseconds((long long)(timeout_seconds * 1000));
    std::unique_ptr<gloo::rendezvous::Store> store;
    if (kind == TORL_GLOO_STORE_FILE) {
      struct stat info;
      if (stat(store_address, &info) != 0 || !S_ISDIR(info.st_mode)) {
        writeError(error, error_size, std::string("rendezvous folder ") + store_address + " does not exist");
        return nullptr;
      }
      store = std::make_unique<gloo::rendezvous::FileStore>(store_address);
    } else {
      store = std::make_unique<torl::TcpStore>(store_address, timeout);
    }
    gloo::rendezvous::PrefixStore prefixed(prefix, *store);
    gloo::transport::tcp::attr attributes;
    attributes.hostname = hostname;
    auto device = gloo::transport::tcp::CreateDevice(attributes);
    auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    context->setTimeout(timeout);
    context->connectFullMesh(prefixed, device);
    return new torl_gloo_group{context, timeout};
  } catch (const std::exception &e) {
    writeError(error, error_size, std::string("cannot form the process group '") + prefix + "': " + e.what());
    return nullptr;
  }
}

void torl_gloo_close(torl_gloo_group *group) { delete group; }

int torl_gloo_rank(const torl_gloo_group *group) { return group->context->rank; }
int torl_gloo_size(const torl_gloo_group *group) { return group->context->size; }

int torl_gloo_allreduce_sum_f32(torl_gloo_group *group, float *values, size_t count, char *error, size_t error_size) {
  return allreduce(group, values, count, &gloo::sum<float>, error, error_size);
}
int torl_gloo_allreduce_sum_f64(torl_gloo_group *group, double *values, size_t count, char *error, size_t error_size) {
  return allreduce(group, values, count, &gloo::sum<double>, error, error_size);
}
int torl_gloo_allreduce_max_f64(torl_gloo_group *group, double *values, size_t count, char *error, size_t error_size) {
  return allreduce(group, values, count, &gloo::max<double>, error, error_size);
}
int torl_gloo_allreduce_min_u64(torl_gloo_group *group, uint64_t *values, size_t count, char *error,
                                size_t error_size) {
  return allreduce(group, values, count, &gloo::min<uint64_t>, error, error_size);
}
int torl_gloo_allreduce_max_u64(torl_gloo_group *group, uint64_t *values, size_t count, char *error,
                                size_t error_size) {
  return allreduce(group, values, count, &gloo::max<uint64_t>, error, error_size);
}

}  // extern "C"
