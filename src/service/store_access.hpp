// The pass that opens KeyDirectory::store_ref(): defined in this header only,
// which is private to keydir_service (not in its public include root), so
// only the service layer can reach the store behind a directory. The layers
// above ask the directory's narrow operations (lookup, stats, published...),
// which apply the publishing mode; the server holds the store it opened.
#pragma once

namespace keydir::service {

class StoreAccess {
 public:
  StoreAccess() = default;
};

}  // namespace keydir::service
