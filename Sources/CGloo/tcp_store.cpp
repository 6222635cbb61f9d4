#include "tcp_store.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace torl {
namespace {

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encodeBase64(const std::vector<char> &data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t)data[i] << 16 | (uint8_t)data[i + 1] << 8 | (uint8_t)data[i + 2];
    out += kBase64[v >> 18 & 63]; out += kBase64[v >> 12 & 63]; out += kBase64[v >> 6 & 63]; out += kBase64[v & 63];
  }
  if (i < data.size()) {
    uint32_t v = (uint8_t)data[i] << 16 | (i + 1 < data.size() ? (uint8_t)data[i + 1] << 8 : 0);
    out += kBase64[v >> 18 & 63]; out += kBase64[v >> 12 & 63];
    out += i + 1 < data.size() ? kBase64[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<char> decodeBase64(const std::string &text) {
  std::vector<char> out;
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const char *found = std::strchr(kBase64, c);
    if (c == 0 || found == nullptr) throw std::runtime_error("rendezvous store sent a value that is not base64");
    accumulator = accumulator << 6 | (uint32_t)(found - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back((char)(accumulator >> bits & 0xff));
    }
  }
  return out;
}

void checkKey(const std::string &key) {
  if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos) {
    throw std::runtime_error("rendezvous store key is empty or holds whitespace: '" + key + "'");
  }
}

}  // namespace

TcpStore::TcpStore(const std::string &address, std::chrono::milliseconds timeout)
    : address_(address), timeout_(timeout) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    throw std::runtime_error("rendezvous store address '" + address + "' is not host:port");
  }
  std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  int status = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (status != 0) {
    throw std::runtime_error("rendezvous store address '" + address + "': " + gai_strerror(status));
  }
  std::string lastError = "no address";
  for (addrinfo *a = found; a != nullptr && socket_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { lastError = std::strerror(errno); continue; }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) { socket_ = fd; break; }
    lastError = std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(found);
  if (socket_ < 0) throw std::runtime_error("cannot reach the rendezvous store at " + address + ": " + lastError);
}

TcpStore::~TcpStore() {
  if (socket_ >= 0) ::close(socket_);
}

std::string TcpStore::request(const std::string &line) {
  std::string message = line + "\n";
  for (size_t sent = 0; sent < message.size();) {
    ssize_t n = ::send(socket_, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("rendezvous store at " + address_ + ": send failed: " + std::strerror(errno));
    sent += (size_t)n;
  }
  for (;;) {
    size_t newline = buffered_.find('\n');
    if (newline != std::string::npos) {
      std::string reply = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return reply;
    }
    char chunk[4096];
    ssize_t n = ::recv(socket_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) throw std::runtime_error("rendezvous store at " + address_ + " closed the connection");
    if (n < 0) throw std::runtime_error("rendezvous store at " + address_ + ": " + std::strerror(errno));
    buffered_.append(chunk, (size_t)n);
  }
}

void TcpStore::set(const std::string &key, const std::vector<char> &data) {
  checkKey(key);
  std::string reply = request("SET " + key + " " + encodeBase64(data));
  if (reply != "OK") throw std::runtime_error("rendezvous store refused SET " + key + ": " + reply);
}

std::vector<char> TcpStore::get(const std::string &key) {
  // Gloo expects get to block until the key exists, as its file store does.
  wait({key}, timeout_);
  std::string reply = request("GET " + key);
  if (reply.rfind("VALUE ", 0) == 0) return decodeBase64(reply.substr(6));
  throw std::runtime_error("rendezvous store has no key " + key + ": " + reply);
}

void TcpStore::wait(const std::vector<std::string> &keys) { wait(keys, timeout_); }

void TcpStore::wait(const std::vector<std::string> &keys, const std::chrono::milliseconds &timeout) {
  std::string line = "WAIT " + std::to_string(timeout.count());
  for (const auto &key : keys) {
    checkKey(key);
    line += " " + key;
  }
  std::string reply = request(line);
  if (reply == "TIMEOUT") {
    throw std::runtime_error("timed out after " + std::to_string(timeout.count()) +
                             " ms waiting for other ranks at the rendezvous store " + address_);
  }
  if (reply != "OK") throw std::runtime_error("rendezvous store refused WAIT: " + reply);
}

}  // namespace torl
