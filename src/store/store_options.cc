#include "store/pg_store.h"
#include "store/store.h"

namespace tf::store {

StoreOptions StoreOptionsFromConfig(const Config& config) {
  StoreOptions options;
  options.path = config.database;
  options.map_size = config.map_size;
  options.max_readers = config.max_readers;
  options.statement_timeout_ms = config.statement_timeout_ms;
  options.meta_async = config.lmdb_meta_async;
  return options;
}

Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options) {
  if (IsPostgresUri(options.path)) return OpenPgStore(options);
  return Store::Open(options);
}

}  // namespace tf::store
