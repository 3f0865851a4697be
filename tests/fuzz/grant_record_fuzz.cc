// libFuzzer target: any bytes through DecodeGrant (the stored form of a grant, store/grant_encoding.h: the binary
// encoding, or the JSON of older builds) must not crash, leak or read out of bounds, and whatever it accepts is a
// grant that satisfies ValidateGrant and whose encoding reads back to the same encoding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/grant_encoding.h"
#include "store/records.h"
#include "util/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view stored(reinterpret_cast<const char*>(data), size);
  tf::Result<tf::store::Grant> grant = tf::store::DecodeGrant(stored);
  if (!grant.ok()) return 0;
  if (!tf::store::ValidateGrant(*grant).ok()) abort();
  const std::string encoded = tf::store::EncodeGrant(*grant);
  tf::Result<tf::store::Grant> again = tf::store::DecodeGrant(encoded);
  if (!again.ok()) abort();
  if (tf::store::EncodeGrant(*again) != encoded) abort();
  return 0;
}
