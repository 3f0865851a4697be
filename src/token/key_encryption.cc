#include "token/key_encryption.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "util/base64.h"
#include "util/crypto.h"

namespace tf::token {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

constexpr std::string_view kAadContext = "tokenfcgi-kek";

std::string Aad(unsigned char version, std::string_view label) {
  std::string aad(1, static_cast<char>(version));
  aad += kAadContext;
  aad += '\0';
  aad += label;
  return aad;
}

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Status DoesNotOpen() {
  return Status::Corruption("does not decrypt with the key-encryption key (a wrong key_encryption_key_file, or a "
                            "damaged or moved value)");
}

}  // namespace

Result<KeyEncryptionKey> KeyEncryptionKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kKeyEncryptionKeySize) {
    return Status::InvalidArgument("a key-encryption key is " + std::to_string(kKeyEncryptionKeySize) +
                                   " bytes, not " + std::to_string(bytes.size()));
  }
  return KeyEncryptionKey(std::string(bytes));
}

KeyEncryptionKey KeyEncryptionKey::Generate() { return KeyEncryptionKey(RandomBytes(kKeyEncryptionKeySize)); }

KeyEncryptionKey::~KeyEncryptionKey() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string KeyEncryptionKey::Seal(std::string_view plaintext, std::string_view label) const {
  const std::string nonce = RandomBytes(kEnvelopeNonceSize);
  const std::string aad = Aad(kEnvelopeVersion, label);
  std::string out(1, static_cast<char>(kEnvelopeVersion));
  out += nonce;
  const size_t header = out.size();
  out.resize(header + plaintext.size() + kEnvelopeTagSize);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, final_len = 0;
  // Failures here are allocation or library failures: sealing with a broken cipher must not write anything.
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), Bytes(key_), Bytes(nonce), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), Bytes(out) + header, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), Bytes(out) + header + len, &final_len) != 1 ||
      static_cast<size_t>(len + final_len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kEnvelopeTagSize),
                          Bytes(out) + header + plaintext.size()) != 1) {
    std::abort();
  }
  return out;
}

Result<std::string> KeyEncryptionKey::Open(std::string_view envelope, std::string_view label) const {
  if (envelope.size() < kEnvelopeOverhead || static_cast<unsigned char>(envelope[0]) != kEnvelopeVersion) {
    return DoesNotOpen();
  }
  const std::string_view nonce = envelope.substr(1, kEnvelopeNonceSize);
  const std::string_view ciphertext =
      envelope.substr(1 + kEnvelopeNonceSize, envelope.size() - kEnvelopeOverhead);
  std::string tag(envelope.substr(envelope.size() - kEnvelopeTagSize));
  const std::string aad = Aad(kEnvelopeVersion, label);
  std::string out(ciphertext.size(), '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0, final_len = 0;
  const bool opened =
      ctx && EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), Bytes(key_), Bytes(nonce), nullptr) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), Bytes(out), &len, Bytes(ciphertext), static_cast<int>(ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kEnvelopeTagSize), Bytes(tag)) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), Bytes(out) + len, &final_len) == 1;
  if (!opened) {
    OPENSSL_cleanse(out.data(), out.size());
    return DoesNotOpen();
  }
  return out;
}

Result<KeyEncryptionKey> ReadKeyEncryptionKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    const int e = errno;
    const std::string what = "key_encryption_key_file " + path + ": " + std::strerror(e);
    if (e == ENOENT) return Status::NotFound(what + " (tokenctl init creates it)");
    return Status::IOError(what);
  }
  struct stat st;
  std::string bytes(kKeyEncryptionKeySize + 1, '\0');
  size_t got = 0;
  Status problem;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = Status::InvalidArgument("key_encryption_key_file " + path + ": not a regular file");
  } else if ((st.st_mode & 0007) != 0) {
    problem = Status::InvalidArgument("key_encryption_key_file " + path +
                                      ": other users may read or write it; chmod 0400 it (owner: the service user)");
  } else {
    while (got < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        problem = Status::IOError("key_encryption_key_file " + path + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  if (problem.ok() && got != kKeyEncryptionKeySize) {
    problem = Status::InvalidArgument("key_encryption_key_file " + path + ": expected exactly " +
                                      std::to_string(kKeyEncryptionKeySize) + " bytes");
  }
  Result<KeyEncryptionKey> kek = problem.ok() ? KeyEncryptionKey::FromBytes(std::string_view(bytes).substr(0, got))
                                              : Result<KeyEncryptionKey>(problem);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return kek;
}

std::string SigningKeyLabel(std::string_view kid) { return "key/" + std::string(kid); }

bool IsSealedPrivateKey(std::string_view stored) { return stored.substr(0, kSealedPemPrefix.size()) == kSealedPemPrefix; }

std::string SealPrivateKey(const KeyEncryptionKey& kek, std::string_view kid, std::string_view pem) {
  return std::string(kSealedPemPrefix) + Base64Encode(kek.Seal(pem, SigningKeyLabel(kid)));
}

Result<std::string> OpenPrivateKey(const KeyEncryptionKey* kek, std::string_view kid, std::string_view stored) {
  if (!IsSealedPrivateKey(stored)) return std::string(stored);
  if (kek == nullptr) {
    return Status::InvalidArgument("is encrypted at rest, and key_encryption_key_file is not set");
  }
  const std::optional<std::string> envelope = Base64Decode(stored.substr(kSealedPemPrefix.size()));
  if (!envelope.has_value()) return DoesNotOpen();
  return kek->Open(*envelope, SigningKeyLabel(kid));
}

bool IsSealedSessionKey(std::string_view stored) {
  return stored.size() == kSessionKeySize + kEnvelopeOverhead && static_cast<unsigned char>(stored[0]) ==
                                                                      kEnvelopeVersion;
}

std::string SealSessionKey(const KeyEncryptionKey& kek, std::string_view key) { return kek.Seal(key, kSessionKeyLabel); }

Result<std::string> OpenSessionKey(const KeyEncryptionKey* kek, std::string_view stored) {
  if (stored.size() == kSessionKeySize) return std::string(stored);
  if (stored.size() != kSessionKeySize + kEnvelopeOverhead) {
    return Status::Corruption("expected " + std::to_string(kSessionKeySize) + " bytes, or " +
                              std::to_string(kSessionKeySize + kEnvelopeOverhead) + " encrypted, found " +
                              std::to_string(stored.size()));
  }
  if (kek == nullptr) {
    return Status::InvalidArgument("is encrypted at rest, and key_encryption_key_file is not set");
  }
  return kek->Open(stored, kSessionKeyLabel);
}

}  // namespace tf::token
