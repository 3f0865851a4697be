// Where the unit tests find files of the source tree. The absolute paths are compiled into test_paths.cc alone, so
// that every other test file compiles the same in any checkout and a compiler cache shared by several checkouts (or
// a fresh clone) reuses its objects.
#pragma once

namespace tf::test_paths {

const char* SourceDir();  // the top of the source tree
const char* KeysDir();    // tests/keys: the fixed test keys

}  // namespace tf::test_paths
