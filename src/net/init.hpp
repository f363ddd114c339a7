// Process-wide set-up of the network library; call once from main() before
// any thread starts (libcurl's global init is not thread-safe).
#pragma once

namespace keydir::net {

void global_init();

}  // namespace keydir::net
