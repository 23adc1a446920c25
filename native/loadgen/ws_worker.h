// One event loop of a WebSocket run (see loadgen.h): its connections do the
// Upgrade handshake, then echo messages or, in subscribe mode, receive what
// the one publisher connection sends through the server. A subscribe run has
// a single loop, so that each message's deliveries are counted in one place.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "loadgen/worker.h"
#include "poller/poller.h"

namespace tsgi::loadgen {

// 64 bits from /dev/urandom (mixed with the clock, should it fail): the
// seed of the handshake keys and the run's masking key.
uint64_t random_seed();

class WsWorker : public Loop {
 public:
  // `connections` echo or subscribe; subscribe mode adds the publisher.
  // `budget`: messages to complete (0: no limit).
  WsWorker(const Plan& plan, unsigned connections, uint64_t budget);
  ~WsWorker() override;
  void run() override;

 private:
  struct Conn;
  struct Published;

  bool counting(uint64_t now) const { return now >= plan_.measure_from && now < plan_.end; }
  void open(Conn* c, uint64_t now);
  void send(Conn* c, const struct iovec* iov, int count, uint64_t now);
  void flush(Conn* c, uint64_t now);
  void set_interest(Conn* c, uint32_t interest);
  void on_event(Conn* c, uint32_t flags, uint64_t now);
  void read(Conn* c, uint64_t now);
  bool handshake(Conn* c, uint64_t now);
  bool frames(Conn* c, char* data, size_t n, uint64_t now);
  void on_message(Conn* c, uint8_t opcode, uint64_t now);
  void pong(Conn* c, const char* payload, size_t len, uint64_t now);
  void fill(Conn* c, uint64_t now);
  void publish_due(uint64_t now);
  void publish_one(uint64_t now);
  void delivered(uint64_t seq, uint64_t now);
  void retire(Published* p, uint64_t now);
  void error(Conn* c, Error kind, uint64_t now);
  void close_fd(Conn* c);
  void sweep(uint64_t now);
  void report();
  void* tag(const Conn& c) const;

  const Plan& plan_;
  const Options& o_;
  Poller poller_;
  std::vector<Conn> conns_;
  const bool subscribe_;
  const uint64_t budget_;
  uint64_t issued_ = 0, done_ = 0;
  uint64_t timeout_ns_;
  unsigned sleeping_ = 0;  // connections waiting to reconnect
  std::unique_ptr<char[]> scratch_;
  uint64_t rng_;
  // Subscribe mode: the publisher is conns_.back(); a ring of the messages
  // not yet delivered everywhere, indexed by sequence number.
  std::vector<Published> ring_;
  unsigned subscribers_open_ = 0;
  bool publishing_ = false;
  uint64_t seq_ = 0;          // messages published
  unsigned outstanding_ = 0;  // of them, not yet delivered to every subscriber
  uint64_t publish_from_ = 0;  // open loop: when the schedule started
  uint64_t next_due_ = UINT64_MAX;
  std::vector<char> frame_;   // the publisher's frame being built
};

}  // namespace tsgi::loadgen
