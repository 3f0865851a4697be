#include "oauth/form_post.h"

#include "oauth/errors.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

FormPost Fail(http::Response response) {
  FormPost p;
  p.error = std::move(response);
  return p;
}

}  // namespace

FormPost ReadFormPost(const http::Request& request, Catalog& catalog, const Config& config) {
  switch (request.body_state) {
    case http::BodyState::kComplete:
      break;
    case http::BodyState::kTooLarge:
      return Fail(OAuthError(413, kInvalidRequest, "the request body is too large"));
    case http::BodyState::kIncomplete:
      return Fail(OAuthError(400, kInvalidRequest, "the request body is incomplete"));
  }
  if (!IsFormUrlEncoded(request.content_type)) {
    return Fail(OAuthError(400, kInvalidRequest, "the request body must be application/x-www-form-urlencoded"));
  }
  Result<Form> form = DecodeForm(request.body, config.max_form_params);
  if (!form.ok()) return Fail(OAuthError(400, kInvalidRequest, form.status().message()));

  Result<std::shared_ptr<const Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) {
    return Fail(StoreFailureResponse("cannot load the configuration", snapshot.status(),
                                     "the server cannot read its configuration"));
  }
  FormPost p;
  p.form = std::move(form).value();
  p.snapshot = std::move(snapshot).value();
  return p;
}

}  // namespace tf::oauth
