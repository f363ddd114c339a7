// keydird migrate: brings the store in --data to the schema this keydird
// reads. Opening the store does it (RocksKeyStore::open: a backup in
// DATA/backups/ first, then the steps; offline.cpp prints that line), as for
// every command; this one does nothing else and says where the store stands.
// It never runs through a running server's admin socket: that server
// migrated the store when it started.
#include <iostream>

#include "server/cmd.hpp"

namespace keydir::server {

int run_migrate(Cli& c, const storage::RocksKeyStore& store) {
  const int current = storage::rocks_schema_version();
  if (store.migration()) {
    std::cout << "the store in " << c.data << " now has schema " << current
              << ", the one this keydird reads\n";
  } else {
    std::cout << "the store in " << c.data << " has schema " << current
              << ", the one this keydird reads: nothing to migrate\n";
  }
  return kExitOk;
}

}  // namespace keydir::server
