// The bytes of one request, built once per run (per request id for FastCGI).
// The CGI protocols carry the variables nginx sends with its stock
// uwsgi_params / scgi_params / fastcgi.conf, in nginx's order, so a direct run
// and one through nginx ask the server for the same work.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/loadgen.h"
#include "net/connect.h"

namespace tsgi::loadgen {

// Throws std::runtime_error when the request does not fit the protocol
// (a uwsgi variable block over 64 KiB).
std::string build_request(const Options& o, const net::Peer& peer, uint16_t fcgi_request_id);

}  // namespace tsgi::loadgen
