#include "test_paths.h"

namespace tf::test_paths {

const char* SourceDir() { return TF_SOURCE_DIR; }
const char* KeysDir() { return TF_SOURCE_DIR "/tests/keys"; }

}  // namespace tf::test_paths
