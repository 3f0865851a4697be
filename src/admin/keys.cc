#include "admin/keys.h"

#include <memory>
#include <utility>

namespace tf::admin {
namespace {

using store::KeyRecord;
using store::KeyState;

struct AlgKeys {
  std::optional<KeyRecord> current, next;
};

AlgKeys FindAlgKeys(const std::vector<KeyRecord>& keys, std::string_view alg) {
  AlgKeys out;
  for (const KeyRecord& k : keys) {
    if (k.alg != alg) continue;
    if (k.state == KeyState::kCurrent) out.current = k;
    if (k.state == KeyState::kNext) out.next = k;
  }
  return out;
}

Status NextExists(std::string_view alg, const KeyRecord& next) {
  return Status::Conflict("a next " + std::string(alg) + " key exists already (" + next.kid +
                          "): rotate or retire it first");
}

enum class Placement { kCurrentOrNext, kCurrentOnly };

// Decides the key's state and writes it, in one transaction. With kCurrentOnly, an algorithm that has a current key
// by the time the transaction runs leaves the store untouched and yields nullopt.
Result<std::optional<KeyRecord>> AddKey(store::Store& store, const token::SigningKey& key, Placement placement,
                                        const Clock& clock, const token::KeyEncryptionKey* kek) {
  KeyRecord record;
  record.kid = key.kid();
  record.alg = std::string(token::AlgName(key.alg()));
  record.created = clock.NowSeconds();
  record.private_pem = kek != nullptr ? token::SealPrivateKey(*kek, record.kid, key.PrivatePem()) : key.PrivatePem();
  bool written = false;
  Status s = store.Update([&](store::Txn& txn) -> Status {
    written = false;
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    for (const KeyRecord& k : *keys) {
      if (k.kid == record.kid) {
        return Status::AlreadyExists("key " + k.kid + " is already in the store (" +
                                     std::string(store::KeyStateName(k.state)) + ")");
      }
    }
    const AlgKeys existing = FindAlgKeys(*keys, record.alg);
    if (!existing.current) {
      record.state = KeyState::kCurrent;
    } else if (placement == Placement::kCurrentOnly) {
      return Status::OK();
    } else if (!existing.next) {
      record.state = KeyState::kNext;
    } else {
      return NextExists(record.alg, *existing.next);
    }
    written = true;
    return txn.PutKey(record);
  });
  if (!s.ok()) return s;
  if (!written) return std::optional<KeyRecord>();
  return std::optional<KeyRecord>(std::move(record));
}

// Fails early, before an expensive key generation, when the algorithm already has a next key.
Status CheckRoomForKey(store::Store& store, token::Alg alg) {
  return store.Read([&](store::Txn& txn) -> Status {
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    const AlgKeys existing = FindAlgKeys(*keys, token::AlgName(alg));
    if (existing.current && existing.next) return NextExists(token::AlgName(alg), *existing.next);
    return Status::OK();
  });
}

Result<KeyRecord> Unwrap(Result<std::optional<KeyRecord>> r) {
  if (!r.ok()) return r.status();
  if (!r->has_value()) return Status::Internal("key was not stored");
  return std::move(**r);
}

}  // namespace

Result<std::shared_ptr<const token::SigningKey>> GenerateSigningKey(token::Alg alg) {
  while (true) {
    auto key = token::SigningKey::Generate(alg);
    if (!key.ok() || (*key)->kid().empty() || (*key)->kid()[0] != '-') return key;
  }
}

Result<KeyRecord> GenerateKey(store::Store& store, token::Alg alg, const Clock& clock,
                              const token::KeyEncryptionKey* kek) {
  TF_RETURN_IF_ERROR(CheckRoomForKey(store, alg));
  auto key = GenerateSigningKey(alg);
  if (!key.ok()) return key.status();
  return Unwrap(AddKey(store, **key, Placement::kCurrentOrNext, clock, kek));
}

Result<KeyRecord> ImportKeyPem(store::Store& store, token::Alg alg, std::string_view pem, const Clock& clock,
                               const token::KeyEncryptionKey* kek) {
  auto key = token::SigningKey::FromPrivatePem(alg, pem);
  if (!key.ok()) return key.status();
  return Unwrap(AddKey(store, **key, Placement::kCurrentOrNext, clock, kek));
}

Result<std::optional<KeyRecord>> EnsureCurrentKey(store::Store& store, token::Alg alg, const Clock& clock,
                                                  const token::KeyEncryptionKey* kek) {
  bool have_current = false;
  TF_RETURN_IF_ERROR(store.Read([&](store::Txn& txn) -> Status {
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    have_current = FindAlgKeys(*keys, token::AlgName(alg)).current.has_value();
    return Status::OK();
  }));
  if (have_current) return std::optional<KeyRecord>();
  auto key = GenerateSigningKey(alg);
  if (!key.ok()) return key.status();
  return AddKey(store, **key, Placement::kCurrentOnly, clock, kek);
}

Result<std::vector<KeyRecord>> ListKeys(store::Store& store) {
  std::vector<KeyRecord> out;
  TF_RETURN_IF_ERROR(store.Read([&](store::Txn& txn) -> Status {
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    out = std::move(keys).value();
    return Status::OK();
  }));
  return out;
}

Result<Rotation> RotateKeys(store::Store& store, token::Alg alg) {
  const std::string alg_name(token::AlgName(alg));
  Rotation rotation;
  Status status = store.Update([&](store::Txn& txn) -> Status {
    rotation = Rotation();
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    AlgKeys existing = FindAlgKeys(*keys, alg_name);
    if (!existing.next) {
      return Status::Conflict("no next " + alg_name +
                              " key to rotate to (create one with: tokenctl key generate --alg " + alg_name + ")");
    }
    if (existing.current) {
      existing.current->state = KeyState::kRetired;
      TF_RETURN_IF_ERROR(txn.PutKey(*existing.current));
      rotation.retired = existing.current;
    }
    existing.next->state = KeyState::kCurrent;
    TF_RETURN_IF_ERROR(txn.PutKey(*existing.next));
    rotation.current = *existing.next;
    return Status::OK();
  });
  if (!status.ok()) return status;
  return rotation;
}

Result<KeyRecord> RetireKey(store::Store& store, std::string_view kid, bool force) {
  KeyRecord retired;
  TF_RETURN_IF_ERROR(store.Update([&](store::Txn& txn) -> Status {
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    for (const KeyRecord& k : *keys) {
      if (k.kid != kid) continue;
      if (k.state == KeyState::kRetired) return Status::Conflict("key " + k.kid + " is already retired");
      if (k.state == KeyState::kCurrent && !force) {
        return Status::Conflict("key " + k.kid + " is the current " + k.alg + " key; retiring it leaves " + k.alg +
                                " unable to sign until another key is current (use key rotate, or --force)");
      }
      retired = k;
      retired.state = KeyState::kRetired;
      return txn.PutKey(retired);
    }
    return Status::NotFound("no key with kid '" + std::string(kid) + "'");
  }));
  return retired;
}

Status RemoveKey(store::Store& store, std::string_view kid) {
  return store.Update([&](store::Txn& txn) -> Status {
    auto keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    for (const KeyRecord& k : *keys) {
      if (k.kid != kid) continue;
      if (k.state != KeyState::kRetired) {
        return Status::Conflict("key " + k.kid + " is " + std::string(store::KeyStateName(k.state)) +
                                "; only retired keys can be removed (retire it first)");
      }
      return txn.RemoveKey(kid);
    }
    return Status::NotFound("no key with kid '" + std::string(kid) + "'");
  });
}

}  // namespace tf::admin
