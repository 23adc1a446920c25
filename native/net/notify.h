// systemd's readiness protocol (sd_notify(3)): one datagram of "KEY=value"
// lines to the unix socket named by NOTIFY_SOCKET. Node cannot send a unix
// datagram, so the addon does; a path starting with "@" is an abstract name.
#pragma once

#include <string>

namespace tsgi::net {

// Sends `message` to `socket_path`. Returns 0, or -errno.
int sd_notify(const std::string& socket_path, const std::string& message);

}  // namespace tsgi::net
