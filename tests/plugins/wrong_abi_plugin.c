/* A test plug-in built for an ABI version this worker does not speak: loading it must stop the worker. */
#include <stddef.h>

#include "tokenfcgi/extension_grant.h"

static const tf_extension_grant_plugin kPlugin = {TF_EXTENSION_GRANT_ABI_VERSION + 1, "wrong_abi", NULL, NULL, NULL,
                                                  NULL};

__attribute__((visibility("default"))) const tf_extension_grant_plugin* tf_extension_grant_entry(void) {
  return &kPlugin;
}
