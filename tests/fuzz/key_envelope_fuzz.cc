// libFuzzer target: any bytes as a stored private key (KeyRecord::private_pem) or session key (meta "session_key")
// must not crash the code that opens them (token/key_encryption.h), and nothing opens but what was sealed with the
// key and label: forged input never opens under the fixed key, and sealing then opening the input gives it back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "token/key_encryption.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tf::token::KeyEncryptionKey kek = *tf::token::KeyEncryptionKey::FromBytes(std::string(32, '\x42'));
  const std::string_view stored(reinterpret_cast<const char*>(data), size);

  // Opening a stored value: a value in clear passes through; a sealed one needs a valid tag, which the fuzzer
  // cannot forge.
  tf::Result<std::string> pem = tf::token::OpenPrivateKey(&kek, "kid", stored);
  if (tf::token::IsSealedPrivateKey(stored) && pem.ok()) abort();
  if (!tf::token::IsSealedPrivateKey(stored) && (!pem.ok() || *pem != stored)) abort();
  tf::Result<std::string> session = tf::token::OpenSessionKey(&kek, stored);
  if (session.ok() && stored.size() != tf::token::kSessionKeySize) abort();
  if (kek.Open(stored, "label").ok()) abort();

  // Round trips: what is sealed opens to itself under its own label only.
  const std::string sealed = tf::token::SealPrivateKey(kek, "kid", stored);
  tf::Result<std::string> opened = tf::token::OpenPrivateKey(&kek, "kid", sealed);
  if (!opened.ok() || *opened != stored) abort();
  if (tf::token::OpenPrivateKey(&kek, "kid2", sealed).ok()) abort();
  return 0;
}
