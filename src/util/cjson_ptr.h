// The one way a cJSON tree is owned: CJsonPtr frees it with cJSON_Delete when it goes out of scope, so an early
// return cannot leak it. A tree handed to cJSON (cJSON_AddItemToObject and friends) is release()d first.
// Thread-compatible.
#pragma once

#include <cjson/cJSON.h>

#include <memory>

namespace tf {

struct CJsonDeleter {
  void operator()(cJSON* tree) const { cJSON_Delete(tree); }
};
using CJsonPtr = std::unique_ptr<cJSON, CJsonDeleter>;

}  // namespace tf
