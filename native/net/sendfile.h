// Sending a file's bytes to a socket without copying them through user space:
// sendfile(2) on Linux and on macOS, whose signatures differ. The one call the
// output queue needs, behind one interface, like the poller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace tsgi::net {

// Sends up to `len` bytes of `file` from `offset` to the socket `sock`. Where
// sendfile refuses the file (EINVAL, ENOSYS, ENOTSUP, EOPNOTSUPP), and where
// there is no sendfile at all (net/platform.h), pread + write instead.
// Returns the bytes sent (0 when the file ends before `offset`), or -errno
// (-EAGAIN when the socket is full). Never raises SIGPIPE (see socket.cc).
ssize_t send_file(int sock, int file, uint64_t offset, size_t len);

}  // namespace tsgi::net
