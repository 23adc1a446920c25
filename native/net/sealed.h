// Bytes made immutable in memory the kernel can send from as it sends a file
// (sendfile from the page cache, no copy through user space): a reply body an
// app serves many times. One function, behind one interface like sendfile:
// on Linux a memfd sealed against every write, shrink and grow
// (memfd_create(2), F_ADD_SEALS), so not even this process can change the
// bytes once sealed; elsewhere (macOS, the forced portable build, a kernel
// without sealing) an unlinked temporary file whose only descriptor left
// open is read-only, which no process can write again either.
#pragma once

#include <cstddef>

namespace tsgi::net {

// A read-only descriptor (close-on-exec) holding a copy of [data, data+len),
// or -errno. `tmpdir`: where the fallback's temporary file is made ("" for
// $TMPDIR, else /tmp).
int seal_bytes(const void* data, size_t len, const char* tmpdir);

// The way this build tries first: "memfd", or "file" where it has no other.
const char* seal_kind();

}  // namespace tsgi::net
