// Answers that wait on a store write without keeping a worker thread waiting (store::Store::UpdateAsync, the deferred
// http::Response). The endpoint decides everything it can on a read transaction and signs its tokens first; what is
// left is the write and the response that follows from its outcome, and both run on the thread that commits the
// write, after the thread that took the request has gone back to accept the next one.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "http/request.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

// A response that follows from a store write: `write` is Store::Update's callback and `answer` turns its status into
// the response, both run on the committing thread. They must own what they use (or keep it alive, see KeepAlive),
// except the http::Request, which stays valid until the answer is given.
inline http::Response AnswerAfterWrite(store::Store* store, std::function<Status(store::Txn&)> write,
                                       std::function<http::Response(const Status&)> answer) {
  http::Response r;
  r.deferred = [store, write = std::move(write), answer = std::move(answer)](http::Answer reply) {
    store->UpdateAsync(write, [answer, reply = std::move(reply)](const Status& s) { reply(answer(s)); });
  };
  return r;
}

// `response`, keeping `owner` (what a deferred response's continuations refer to, e.g. the decoded form and the
// configuration snapshot) alive until its answer is given.
inline http::Response KeepAlive(http::Response response, std::shared_ptr<const void> owner) {
  if (!response.deferred) return response;
  return http::Then(std::move(response), [owner = std::move(owner)](http::Response r) { return r; });
}

}  // namespace tf::oauth
