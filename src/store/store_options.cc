#include "store/store.h"

namespace tf::store {

StoreOptions StoreOptionsFromConfig(const Config& config) {
  StoreOptions options;
  options.path = config.database;
  options.map_size = config.map_size;
  options.max_readers = config.max_readers;
  options.meta_async = config.lmdb_meta_async;
  return options;
}

}  // namespace tf::store
