// `keydird serve`.
#pragma once

#include "server/cli.hpp"

namespace keydir::server {

// Runs the server until SIGINT or SIGTERM. Returns the exit status.
int run_serve(Cli& cli);

}  // namespace keydir::server
