// The bytes waiting to go out on one connection, as a queue of segments
// written with one writev. Small pieces (heads, short bodies, chunk framing)
// are copied into owned blocks; a large body can be referenced where it lies,
// written at once, and only its unwritten rest copied (own_refs), so a fast
// client takes a 1 MiB Buffer from JS without a copy; or, where its owner
// can pin it (a whole reply body's Buffer, a string the addon encoded into
// memory of its own), not copied at all, so slow clients of one shared
// Buffer do not each hold a copy. A file segment is sent
// from the page cache with sendfile (net/sendfile.h) and owns its fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <sys/types.h>

namespace tsgi {

// Keeps memory the queue references alive: deleted once the queue has
// written (or dropped) what it references.
struct Pin {
  virtual ~Pin() = default;
};

// Gives a Pin for borrowed bytes that may stay where they are, or null:
// then they are copied.
class PinSource {
 public:
  virtual ~PinSource() = default;
  virtual Pin* pin(const char* data, size_t len) = 0;
};

class OutQueue {
 public:
  OutQueue() = default;
  ~OutQueue() { clear(); }
  OutQueue(const OutQueue&) = delete;
  OutQueue& operator=(const OutQueue&) = delete;

  // Room for at least n bytes at the tail; fill it, then commit(written).
  char* reserve(size_t n);
  void commit(size_t n);
  void append(const char* data, size_t len);
  // Queues [data, data+len) without copying. The bytes are borrowed: the
  // caller flushes, then calls own_refs() before its own caller may reuse them.
  void append_ref(const char* data, size_t len);

  // Queues `len` bytes of the open file `file` from `offset`, sent with
  // sendfile. The queue owns `file` from here and closes it when done.
  void append_file(int file, uint64_t offset, size_t len);

  // Copies the unwritten part of every referenced segment into owned memory,
  // so the caller's bytes are no longer needed once this returns; or, where
  // `pins` gives a Pin for them, keeps them where they are until written.
  void own_refs(PinSource* pins = nullptr);

  // Writes as much as the socket takes. Returns bytes written, or -errno
  // (-EAGAIN when the socket is full). last: the connection closes once the
  // queue is empty, so its final bytes may wait for the FIN (MSG_MORE).
  ssize_t flush(int fd, bool last = false);

  size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  void clear();

  // A position in what was ever queued, and whether none of what was queued
  // after it has been written yet; truncate() then drops it, as if never
  // queued (a reply that failed before any of it left can be replaced).
  uint64_t mark() const { return appended_; }
  bool unsent_since(uint64_t mark) const { return written_ <= mark; }
  void truncate(uint64_t mark);

 private:
  static constexpr size_t kBlock = 16 * 1024;
  static constexpr int kMaxIov = 64;
  // One sendfile call sends at most this much, so one big file does not
  // hold the loop while the socket keeps taking bytes.
  static constexpr size_t kFileStep = 1024 * 1024;
  struct Segment {
    char* owned;        // block we allocated (copy path), else nullptr
    const char* data;
    size_t len;         // bytes queued in this segment
    size_t cap;         // owned blocks: capacity
    int file = -1;      // a file segment: its fd (owned); data is unused
    uint64_t file_off = 0;
    Pin* pin = nullptr; // a referenced segment kept alive by its owner (owned)
  };
  void advance(size_t n);
  void pop_front();
  static void release(Segment& s);
  std::deque<Segment> segs_;
  size_t bytes_ = 0;
  size_t front_off_ = 0;  // bytes of segs_.front() already written
  uint64_t appended_ = 0; // bytes ever queued
  uint64_t written_ = 0;  // bytes ever written
};

}  // namespace tsgi
