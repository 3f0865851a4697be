// Internal to oauth/: the checks every form-posting endpoint (token, revocation, introspection) makes before it
// looks at a parameter (RFC 7009 §2.1 and RFC 7662 §2.1 both use the token endpoint's encoding):
//
//   1. the body as the adapter found it: too large -> 413 invalid_request; shorter than CONTENT_LENGTH (or a
//      malformed CONTENT_LENGTH) -> 400 invalid_request
//   2. Content-Type must be application/x-www-form-urlencoded (token_endpoint.h's IsFormUrlEncoded) -> else 400
//      invalid_request
//   3. the form, decoded strictly (form.h; at most config.max_form_params parameters) -> 400 invalid_request naming
//      the parameter. Query-string parameters are ignored.
// and the configuration snapshot for the request (500 server_error when none can be loaded, logged).
// One function for all three, so a client sees one behaviour everywhere.
//
// Thread-safety: pure function of its arguments (Catalog::Current is thread-safe).
#pragma once

#include <memory>
#include <optional>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/form.h"

namespace tf::oauth {

struct FormPost {
  std::optional<Form> form;                   // set on success
  std::shared_ptr<const Snapshot> snapshot;   // set on success
  http::Response error;                       // the answer to send when form is empty
};

FormPost ReadFormPost(const http::Request& request, Catalog& catalog, const Config& config);

}  // namespace tf::oauth
