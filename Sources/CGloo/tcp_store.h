// A Gloo rendezvous store served over TCP by the cluster driver (clients/cluster, torl_cluster.store).
// Line protocol, one request per line, values base64:
//   SET <key> <base64>            -> OK
//   GET <key>                     -> VALUE <base64> | MISSING
//   WAIT <timeout_ms> <key>...    -> OK | TIMEOUT
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

namespace torl {

class TcpStore : public gloo::rendezvous::Store {
 public:
  // address: "host:port". Connects at once; throws std::runtime_error naming the address on failure.
  TcpStore(const std::string &address, std::chrono::milliseconds timeout);
  ~TcpStore() override;

  void set(const std::string &key, const std::vector<char> &data) override;
  std::vector<char> get(const std::string &key) override;
  void wait(const std::vector<std::string> &keys) override;
  void wait(const std::vector<std::string> &keys, const std::chrono::milliseconds &timeout) override;

 private:
  std::string request(const std::string &line);

  std::string address_;
  std::chrono::milliseconds timeout_;
  int socket_ = -1;
  std::string buffered_;
};

}  // namespace torl
