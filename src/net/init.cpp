#include "net/init.hpp"

#include <curl/curl.h>

namespace keydir::net {

void global_init() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

}  // namespace keydir::net
