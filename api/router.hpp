// The routes of keydird: one entry point from the HTTP adapter.
#pragma once

#include "api/hkp/hkp.hpp"
#include "api/http/message.hpp"

namespace keydir::api {

class Api {
 public:
  Api(service::KeyDirectory& directory, HkpOptions hkp);
  // Never throws: an unexpected exception becomes a generic 500.
  Reply dispatch(const HttpRequest& request) const noexcept;

 private:
  Reply route(const HttpRequest& request) const;
  Hkp hkp_;
};

}  // namespace keydir::api
