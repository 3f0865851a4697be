// The FastCGI adapter (see fcgi_server.h). The only file that includes fcgiapp.h.
//
// Signals. SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 are blocked from the start of a worker (BlockStopSignals,
// before libfcgi installs its handlers for SIGTERM and SIGUSR1, which would take a stop signal that arrives during the
// start and lose it), so every thread inherits the mask and no signal can interrupt a read or write of a request in
// flight: only the serving thread takes SIGTERM, SIGINT, SIGHUP and SIGUSR1, in sigwait(), a stop signal received
// while starting as soon as it serves. SIGHUP is a shutdown like SIGTERM (the configuration is read only
// at start, so a worker asked to reload finishes its requests and exits, and its supervisor starts a fresh one).
// SIGUSR1, which libfcgi would otherwise take as "shut down after this request" through a handler it installs, is
// logged and ignored.
//
// Connections. The worker accepts connections itself and hands each to libfcgi (through FCGX_Request's ipcFd, with
// no listening socket of libfcgi's own) only once the web server has sent something on it: libfcgi's FCGX_Accept_r
// would otherwise wait for the first bytes inside the same call that waits for a connection, where the stop's signal
// (below) must be able to interrupt the one and must never interrupt the other. A connection that sends nothing within
// kFirstBytesMs is closed (libfcgi 2.4 allowed a Unix socket 2 s, a TCP connection forever); a TCP connection gets
// TCP_NODELAY, and FCGI_WEB_SERVER_ADDRS is honoured, both as libfcgi's own accept did.
//
// Shutdown, in detail. SIGUSR2 has a no-op handler installed without SA_RESTART. A worker unblocks SIGUSR2 only while
// it waits for a new connection (accept()) or for the next request on a connection the web server keeps alive
// (ppoll()), and never while it reads, handles or writes a request. On SIGTERM (or SIGINT, SIGHUP) the serving thread
// sets the stop flag and sends SIGUSR2 to every worker that has not exited, every 100 ms: an idle worker's wait fails
// with EINTR and the worker exits; a busy worker keeps the signal pending until its request is read, handled, written
// and finished, then takes the signal harmlessly, sees the stop flag and exits. A kept-alive connection is closed at
// the stop once its request in flight is answered. The listening socket is never shut down or closed (under spawn-fcgi
// it is shared with sibling processes). A socket we bound ourselves (--listen) is drained instead: before the stop flag
// is set its Unix socket file is removed and the socket made non-blocking, and the workers keep accepting (accept() no
// longer waits) until accept() fails with EAGAIN (on TCP, at most as many connections as waited when the stop began),
// then exit; SIGUSR2 only breaks a wait in accept() that began before the socket became non-blocking.
//
// libfcgi 2.4.2's read() and write() do not retry on EINTR, which is why SIGUSR2 must stay blocked while a request is
// in flight: a signal there would cut the body or the response short, or (before the request was read) make libfcgi
// close the connection unanswered.
#include "http/fcgi_server.h"

#include <arpa/inet.h>
#include <fastcgi.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "http/listen_address.h"
#include "http/param_index.h"
#include "util/ascii.h"
#include "util/log.h"

namespace tf::http {
namespace {

// No single request parameter (header) is copied beyond this; longer values are truncated.
constexpr size_t kMaxParamBytes = 16 * 1024;
// Body reads happen in chunks of at most this many bytes.
constexpr int kReadChunk = 64 * 1024;
// A connection that sends nothing for this long after it was accepted is closed (see the file comment).
constexpr int kFirstBytesMs = 10'000;

std::string CopyParam(const ParamLookup& param, const char* name) {
  const char* v = param(name);
  if (v == nullptr) return {};
  return std::string(v, strnlen(v, kMaxParamBytes));
}


const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

// Header names and values never carry CR, LF or NUL into the output (no response splitting).
void AppendClean(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back((c == '\r' || c == '\n' || c == '\0') ? ' ' : c);
  }
}

// ---- Listening socket -------------------------------------------------------------------------------------------

std::string Errno(int err) { return std::strerror(err); }

// Binds a Unix-domain socket. A socket file left by a dead process (connect() refused) is replaced; a live socket
// or any other kind of file at the path is an error. The socket is bound and listening under a temporary sibling
// name first and then renamed into place, so the path never names a socket that refuses connections (a web server
// or test that connects as soon as the file appears would otherwise race listen()). Owner, group and mode are set
// before the rename, so the socket appears with them.
Result<int> BindUnix(const std::string& path, const ServerOptions& options, int backlog) {
  const std::string temporary = path + ".new" + std::to_string(getpid());
  sockaddr_un addr{}, temporary_addr{};
  addr.sun_family = AF_UNIX;
  temporary_addr.sun_family = AF_UNIX;
  if (temporary.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("unix socket path is too long (max " +
                                   std::to_string(sizeof(addr.sun_path) - 1 - (temporary.size() - path.size())) +
                                   " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  std::memcpy(temporary_addr.sun_path, temporary.data(), temporary.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError("socket(AF_UNIX): " + Errno(errno));

  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      close(fd);
      return Status::AlreadyExists(path + " exists and is not a socket; refusing to replace it");
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
      bool live = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(probe);
      if (live) {
        close(fd);
        return Status::AlreadyExists(path + " is in use by a running server");
      }
    }
  }
  unlink(temporary.c_str());  // left by a process with our pid that died mid-bind
  mode_t old_umask = umask(0117);  // the socket file is created 0660 (no thread runs yet)
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&temporary_addr), sizeof temporary_addr);
  int err = errno;
  umask(old_umask);
  if (rc != 0) {
    close(fd);
    return Status::IOError("bind(" + temporary + "): " + Errno(err));
  }
  if ((options.socket_uid != -1 || options.socket_gid != -1) &&
      chown(temporary.c_str(), static_cast<uid_t>(options.socket_uid), static_cast<gid_t>(options.socket_gid)) != 0) {
    err = errno;
    close(fd);
    unlink(temporary.c_str());
    return Status::IOError("chown(" + path + "): " + Errno(err) +
                           (err == EPERM ? " (a worker that is not root can give its socket only to a group it "
                                           "belongs to)"
                                         : ""));
  }
  if (chmod(temporary.c_str(), options.socket_mode) != 0 || listen(fd, backlog) != 0) {
    err = errno;
    close(fd);
    unlink(temporary.c_str());
    return Status::IOError("listen(" + path + "): " + Errno(err));
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {  // atomically replaces a stale socket file
    err = errno;
    close(fd);
    unlink(temporary.c_str());
    return Status::IOError("rename(" + temporary + ", " + path + "): " + Errno(err));
  }
  return fd;
}

Result<int> BindTcp(const std::string& host, const std::string& port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument("cannot resolve " + host + ": " + gai_strerror(gai));
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = "socket: " + Errno(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
    last_error = "bind/listen: " + Errno(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::IOError("cannot listen on " + host + ":" + port + ": " + last_error);
  return fd;
}

// ---- Worker threads ---------------------------------------------------------------------------------------------

void IgnoreSignal(int) {}

struct Shared {
  int listen_fd = FCGI_LISTENSOCK_FILENO;
  const ServerOptions* options = nullptr;
  const HandlerFactory* factory = nullptr;
  pthread_t serving_thread{};
  std::atomic<bool> stop{false};
  // Connections the workers still accept once stopping (the socket is non-blocking by then). 0 for an inherited
  // socket, left to its owner. For a socket this process bound (--listen), the backlog is drained: unbounded for a
  // Unix socket, whose file is removed first; a TCP socket's backlog length when the stop began (new connections
  // still arrive there, and must not keep a worker that is stopping under load from ever exiting).
  std::atomic<int64_t> drain_left{0};
  // FCGI_WEB_SERVER_ADDRS: the IPv4 addresses a TCP connection may come from (empty: any), as libfcgi checks them.
  std::vector<in_addr_t> web_server_addrs;
  std::mutex mu;
  std::condition_variable exited_cv;
  unsigned exited = 0;        // guarded by mu
  unsigned deferred = 0;      // guarded by mu: requests handed to another thread and not yet answered
  Status fatal;               // guarded by mu: the first error that stopped a worker
};

Response InternalError() {
  Response r;
  r.status = 500;
  r.SetHeader("Content-Type", "text/plain; charset=utf-8");
  r.body = "internal server error\n";
  return r;
}

// accept() failed for a reason of the connection's own (the peer gave up, the network failed): take the next one.
bool ConnectionAcceptError(int err) {
  return err == ECONNABORTED || err == EPROTO || err == ECONNRESET || err == ETIMEDOUT || err == ENETDOWN ||
         err == ENETUNREACH || err == EHOSTDOWN || err == EHOSTUNREACH || err == ENONET || err == ENOPROTOOPT ||
         err == EOPNOTSUPP;
}

// accept() failed for want of a resource, or found nothing on a socket another process made non-blocking: retry later.
bool TransientAcceptError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EAGAIN;
}

std::vector<in_addr_t> ParseWebServerAddrs(const char* list) {
  std::vector<in_addr_t> addrs;
  if (list == nullptr) return addrs;
  std::string_view rest(list);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string one(rest.substr(0, comma));
    addrs.push_back(inet_addr(one.c_str()));  // as libfcgi: an entry that is not an address matches nothing real
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return addrs;
}

// Accepts the next connection on the listening socket, or returns -errno. Unless `stopping` (the socket is then
// non-blocking and accept() does not wait), SIGUSR2 is unblocked around the wait, so that the stop interrupts it
// (EINTR). A signal that arrives between the check of the stop flag and accept() is missed; the serving thread sends
// it again 100 ms later.
int AcceptConnection(Shared* shared, bool stopping, const sigset_t& usr2) {
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  int fd = -1;
  int err = EINTR;
  if (!stopping) pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr);
  if (stopping || !shared->stop.load()) {
    fd = accept4(shared->listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    err = errno;
  }
  if (!stopping) pthread_sigmask(SIG_BLOCK, &usr2, nullptr);
  if (fd < 0) return -err;
  if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a response's records go out without delay
  }
  if (peer.ss_family == AF_INET && !shared->web_server_addrs.empty()) {
    const in_addr_t from = reinterpret_cast<const sockaddr_in&>(peer).sin_addr.s_addr;
    const auto& allowed = shared->web_server_addrs;
    if (std::find(allowed.begin(), allowed.end(), from) == allowed.end()) {
      char text[INET_ADDRSTRLEN] = "?";
      inet_ntop(AF_INET, &from, text, sizeof text);
      Logf(LogLevel::kWarn, "connection from %s refused: not in FCGI_WEB_SERVER_ADDRS", text);
      close(fd);
      return -ECONNABORTED;
    }
  }
  return fd;
}

// Whether the web server has sent something on a connection it just opened, waiting up to kFirstBytesMs (with SIGUSR2
// blocked: the stop does not cut this wait short, the connection is answered).
bool FirstBytesArrive(int fd) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do rc = poll(&p, 1, kFirstBytesMs);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) Logf(LogLevel::kWarn, "a connection sent no request within %d s: closed", kFirstBytesMs / 1000);
  return rc > 0;
}

// Waits for the next request (or the web server's close) on the kept-alive connection `fd`, with SIGUSR2 unblocked
// (`wait_mask`), so that the stop interrupts the wait; returns false if it did (errno EINTR) or the wait failed.
bool NextRequestArrives(int fd, const sigset_t& wait_mask) {
  pollfd p{fd, POLLIN, 0};
  return ppoll(&p, 1, nullptr, &wait_mask) > 0;
}

// Returns whether the request's input was read to its end (a body as long as CONTENT_LENGTH said, then FastCGI's
// empty STDIN record), so that closing the connection leaves nothing the web server sent unread. Only a body of
// declared length is followed at once by that record; without CONTENT_LENGTH (a GET, or a body nginx streams with
// fastcgi_request_buffering off) the next byte may be one a client has not sent yet, and the worker must not wait
// for it, so such a request reports false. The empty STDIN record is normally already in libfcgi's buffer: reading
// one more byte consumes it without a system call. A body that was not read (413, malformed length) is never
// touched.
bool InputReadToEnd(FCGX_Request& req, const Request& request, const internal::ParamIndex& params) {
  const char* length = params.Get("CONTENT_LENGTH");
  if (request.body_state != BodyState::kComplete || length == nullptr || length[0] == '\0') return false;
  char extra;
  return FCGX_GetStr(&extra, 1, req.in) == 0 && FCGX_HasSeenEOF(req.in) && FCGX_GetError(req.in) == 0;
}

// Writes the response and closes the request. libfcgi closes a connection by shutting down its write side and then
// waiting in poll() until the web server has closed too: a sleep and a wake-up per request. With the input read to
// its end there is nothing left that a close could turn into a TCP reset, so the request is detached, which libfcgi
// 2.4 closes with a plain close() (FCGX_Free passes !detached as OS_IpcClose's shutdown flag; test_worker_signals
// checks the effect on the wire). Otherwise (a body left unread) the lingering close stays, so that the reset cannot
// destroy the response before the web server reads it. A kept-alive connection (fastcgi_keep_conn) is not closed
// here, and libfcgi would remember the detach for whichever later request closes it: it is left alone.
void Respond(FCGX_Request& req, const Response& response, bool input_read) {
  std::string out = SerializeResponse(response);
  size_t off = 0;
  while (off < out.size()) {
    int n = static_cast<int>(std::min<size_t>(out.size() - off, 1 << 30));
    if (FCGX_PutStr(out.data() + off, n, req.out) != n) break;  // the web server went away
    off += static_cast<size_t>(n);
  }
  if (input_read && !req.keepConnection) FCGX_Detach(&req);
  FCGX_Finish_r(&req);
}

// At most this many deferred requests per process are waiting for their answers at once (four of the LMDB store's
// largest batches).
constexpr unsigned kMaxDeferred = 256;

// Counts one more deferred request unless kMaxDeferred are owed already; a Handoff releases it.
bool ReserveDeferred(Shared* shared) {
  std::lock_guard<std::mutex> lock(shared->mu);
  if (shared->deferred >= kMaxDeferred) return false;
  ++shared->deferred;
  return true;
}

// A request handed to the thread that completes its deferred response: it owns the FastCGI request and the Request
// until the answer is written, then frees both. Dropped without an answer (a continuation threw), it answers 500.
class Handoff {
 public:
  // Takes over the slot ReserveDeferred counted.
  Handoff(std::unique_ptr<FCGX_Request> req, std::unique_ptr<Request> request, bool input_read, Shared* shared)
      : req_(std::move(req)), request_(std::move(request)), input_read_(input_read), shared_(shared) {}
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;
  ~Handoff() {
    if (!answered_) Answer(InternalError());  // Respond's FCGX_Finish_r frees libfcgi's buffers either way
    // Under the lock: ServeFastCgi returns (and destroys `shared_`) only once it has seen the count reach zero.
    std::lock_guard<std::mutex> lock(shared_->mu);
    --shared_->deferred;
    shared_->exited_cv.notify_all();
  }

  void Answer(const Response& response) {
    if (answered_) return;
    answered_ = true;
    Respond(*req_, response, input_read_);
  }

 private:
  std::unique_ptr<FCGX_Request> req_;
  std::unique_ptr<Request> request_;  // what the handler's continuations may still refer to
  bool input_read_;
  Shared* shared_;
  bool answered_ = false;
};

// Serves the accepted request `req`. A deferred response on a connection that is not kept alive takes `req` with it
// (left null here) and is answered by the thread that completes it; this thread goes back to accepting.
void ServeOne(std::unique_ptr<FCGX_Request>* req, RequestHandler& handler, Shared* shared) {
  const internal::ParamIndex params((*req)->envp);  // one pass over the parameters, not one FCGX_GetParam per name
  FCGX_Request* r = req->get();
  auto request = std::make_unique<Request>(BuildRequest(
      [&params](const char* name) -> const char* { return params.Get(name); },
      [r](char* buf, int len) -> int {
        int n = FCGX_GetStr(buf, len, r->in);
        if (n == 0 && FCGX_GetError(r->in) != 0) return -1;
        return n;
      },
      shared->options->max_body_bytes));
  const bool input_read = InputReadToEnd(*r, *request, params);
  Response response;
  try {
    response = handler.Handle(*request);
  } catch (const std::exception& e) {
    Logf(LogLevel::kError, "request handler failed: %s", e.what());
    response = InternalError();
  }
  // A kept-alive connection carries the web server's next request: it stays with this thread (Await below). So does a
  // request beyond kMaxDeferred answers owed by this process: then the thread waits, as a burst larger than the
  // store's batches should, instead of taking connections from the listen backlog faster than they are answered.
  if (response.deferred && !r->keepConnection && ReserveDeferred(shared)) {
    auto handoff = std::make_shared<Handoff>(std::move(*req), std::move(request), input_read, shared);
    try {
      response.deferred([handoff](Response answer) { handoff->Answer(answer); });
    } catch (const std::exception& e) {
      Logf(LogLevel::kError, "request handler failed: %s", e.what());
    }
    return;
  }
  try {
    response = Await(std::move(response));
  } catch (const std::exception& e) {
    Logf(LogLevel::kError, "request handler failed: %s", e.what());
    response = InternalError();
  }
  Respond(*r, response, input_read);
}

void WorkerMain(Shared* shared) {
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);

  std::unique_ptr<RequestHandler> handler;
  try {
    handler = (*shared->factory)();
  } catch (const std::exception& e) {
    Logf(LogLevel::kError, "cannot create request handler: %s", e.what());
  }
  // libfcgi never accepts a connection itself (no listening socket: its accept() would fail with EBADF); it reads
  // the request from the connection this thread accepted and put into ipcFd.
  auto req = std::make_unique<FCGX_Request>();
  FCGX_InitRequest(req.get(), -1, 0);
  sigset_t wait_mask;  // this thread's mask with SIGUSR2 unblocked: what a kept-alive connection is waited on with
  pthread_sigmask(SIG_BLOCK, nullptr, &wait_mask);
  sigdelset(&wait_mask, SIGUSR2);
  Status fatal;
  if (handler == nullptr) fatal = Status::Internal("cannot create request handler");

  while (fatal.ok()) {
    const bool stopping = shared->stop.load();
    if (req->ipcFd >= 0) {
      // A connection the web server keeps alive (fastcgi_keep_conn) after its last request: its next request is
      // waited for until the stop, which closes it (nothing left unread: a plain close).
      if (stopping || !NextRequestArrives(req->ipcFd, wait_mask)) {
        if (!stopping && errno == EINTR && !shared->stop.load()) continue;  // a SIGUSR2 that is not the stop's
        FCGX_Detach(req.get());
        FCGX_Free(req.get(), 1);
        continue;
      }
    } else {
      if (stopping && shared->drain_left.fetch_sub(1) <= 0) break;
      const int fd = AcceptConnection(shared, stopping, usr2);
      if (fd < 0) {
        const int err = -fd;
        if (err == EINTR || ConnectionAcceptError(err)) continue;
        if (shared->stop.load()) break;  // drained (EAGAIN), or the socket failed while stopping
        if (TransientAcceptError(err)) {
          Logf(LogLevel::kWarn, "accept failed: %s; retrying", std::strerror(err));
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        fatal = Status::IOError(std::string("FastCGI accept failed: ") + std::strerror(err) +
                                (shared->listen_fd == FCGI_LISTENSOCK_FILENO
                                     ? " (is fd 0 a listening socket? use --listen or spawn-fcgi)"
                                     : ""));
        break;
      }
      if (!FirstBytesArrive(fd)) {
        close(fd);
        continue;
      }
      req->ipcFd = fd;
      req->keepConnection = 1;  // so that FCGX_Accept_r's finish of the previous request leaves this connection open
    }
    // Reads the FastCGI request from req->ipcFd; on a close or a protocol error libfcgi closes the connection, and
    // its attempt to accept another fails at once (no listening socket).
    if (FCGX_Accept_r(req.get()) < 0) continue;
    ServeOne(&req, *handler, shared);
    if (req == nullptr) {  // handed off with its deferred response
      req = std::make_unique<FCGX_Request>();
      FCGX_InitRequest(req.get(), -1, 0);
    }
  }
  FCGX_Free(req.get(), 0);  // frees buffers (no connection is open here; the listening socket is not libfcgi's)
  handler.reset();

  std::lock_guard<std::mutex> lock(shared->mu);
  if (!fatal.ok() && shared->fatal.ok()) {
    shared->fatal = fatal;
    pthread_kill(shared->serving_thread, SIGTERM);  // wake the serving thread's sigwait()
  }
  ++shared->exited;
  shared->exited_cv.notify_all();
}

}  // namespace

// ---- Public functions -------------------------------------------------------------------------------------------

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress a;
  if (text.empty()) return a;
  if (text.substr(0, 5) == "unix:") {
    a.kind = ListenAddress::Kind::kUnix;
    a.path = std::string(text.substr(5));
    if (a.path.empty() || a.path.front() != '/') {
      return Status::InvalidArgument("listen address 'unix:PATH' needs an absolute path");
    }
    if (a.path.find('\0') != std::string::npos) return Status::InvalidArgument("listen path contains NUL");
    return a;
  }
  a.kind = ListenAddress::Kind::kTcp;
  std::string_view host, port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("listen address must be unix:/path or HOST:PORT, e.g. [::1]:9000");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("listen address must be unix:/path or HOST:PORT, e.g. 127.0.0.1:9000");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("an IPv6 listen address needs brackets, e.g. [::1]:9000");
    }
  }
  if (host.empty()) {
    return Status::InvalidArgument(
        "listen address needs a host (e.g. 127.0.0.1:9000); write 0.0.0.0:PORT to listen on all interfaces");
  }
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '%')) {
      return Status::InvalidArgument("listen address has a bad host");
    }
  }
  unsigned long p = 0;
  if (port.empty() || port.size() > 5) return Status::InvalidArgument("listen address needs a port from 1 to 65535");
  for (char c : port) {
    if (c < '0' || c > '9') return Status::InvalidArgument("listen address needs a port from 1 to 65535");
    p = p * 10 + static_cast<unsigned long>(c - '0');
  }
  if (p < 1 || p > 65535) return Status::InvalidArgument("listen address needs a port from 1 to 65535");
  a.host = std::string(host);
  a.port = std::string(port);
  return a;
}

Request BuildRequest(const ParamLookup& param, const BodyReader& read, uint64_t max_body_bytes) {
  Request r;
  r.method = CopyParam(param, "REQUEST_METHOD");
  std::string uri = CopyParam(param, "REQUEST_URI");
  if (!uri.empty()) {
    r.path = uri.substr(0, uri.find('?'));
  } else {
    r.path = CopyParam(param, "SCRIPT_NAME") + CopyParam(param, "PATH_INFO");
  }
  r.query = CopyParam(param, "QUERY_STRING");
  r.content_type = CopyParam(param, "CONTENT_TYPE");
  r.authorization = CopyParam(param, "HTTP_AUTHORIZATION");
  if (r.authorization.empty()) r.authorization = CopyParam(param, "REDIRECT_HTTP_AUTHORIZATION");
  r.remote_user = CopyParam(param, "REMOTE_USER");
  r.remote_addr = CopyParam(param, "REMOTE_ADDR");
  r.host = CopyParam(param, "HTTP_HOST");
  r.cookie = CopyParam(param, "HTTP_COOKIE");
  r.origin = CopyParam(param, "HTTP_ORIGIN");
  std::string https = CopyParam(param, "HTTPS");
  r.https = EqualsIgnoreAsciiCase(https, "on") || https == "1";

  // The body. nginx sends CONTENT_LENGTH "" when there is none.
  const char* cl = param("CONTENT_LENGTH");
  if (cl == nullptr || cl[0] == '\0') return r;
  const size_t digits = strnlen(cl, kMaxParamBytes);
  if (digits == kMaxParamBytes) {
    r.body_state = BodyState::kIncomplete;  // not a length anyone sends
    return r;
  }
  uint64_t length = 0;
  bool over = false;  // saturates: once over the cap, the exact value does not matter
  for (size_t i = 0; i < digits; ++i) {
    if (cl[i] < '0' || cl[i] > '9') {
      r.body_state = BodyState::kIncomplete;  // malformed: "-1", "12abc", " 5"
      return r;
    }
    if (!over) {
      length = length * 10 + static_cast<uint64_t>(cl[i] - '0');
      if (length > max_body_bytes || length > UINT64_MAX / 100) over = true;
    }
  }
  if (over) {
    r.body_state = BodyState::kTooLarge;  // answered 413 without reading the body
    return r;
  }
  r.body.resize(static_cast<size_t>(length));
  size_t got = 0;
  while (got < length) {
    int want = static_cast<int>(std::min<uint64_t>(length - got, kReadChunk));
    int n = read(&r.body[got], want);
    if (n <= 0) break;
    got += static_cast<size_t>(std::min(n, want));
  }
  if (got < length) {
    r.body.clear();
    r.body_state = BodyState::kIncomplete;
  }
  return r;
}

std::string SerializeResponse(const Response& response) {
  std::string out;
  out.reserve(128 + response.body.size());
  out += "Status: ";
  out += std::to_string(response.status);
  out += ' ';
  out += ReasonPhrase(response.status);
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    // The adapter owns framing: a handler's own Status or Content-Length header is dropped.
    if (EqualsIgnoreAsciiCase(name, "Status") || EqualsIgnoreAsciiCase(name, "Content-Length")) continue;
    AppendClean(&out, name);
    out += ": ";
    AppendClean(&out, value);
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n\r\n";
  out += response.body;
  return out;
}

bool RunningAsCgi() { return FCGX_IsCGI() != 0; }

sigset_t BlockStopSignals() {
  sigset_t stop, previous;
  sigemptyset(&stop);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&stop, sig);
  pthread_sigmask(SIG_BLOCK, &stop, &previous);
  return previous;
}

int DefaultListenBacklog() {
  int backlog = SOMAXCONN;
  if (FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "re")) {
    int n = 0;
    if (std::fscanf(f, "%d", &n) == 1 && n > 0) backlog = n;
    std::fclose(f);
  }
  return backlog;
}

bool InheritedSocketIsTcp() {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(FCGI_LISTENSOCK_FILENO, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  return addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
}

namespace {

// Removes the socket file we bound (`bound`: its stat then) unless another server has replaced it meanwhile, or it is
// gone already. The fd itself stays open. Returns false when the file is still ours (it could not be removed), so
// that new connections can still reach our socket.
bool UnlinkIfOurs(const std::string& path, const struct stat& bound) {
  struct stat now {};
  if (stat(path.c_str(), &now) != 0 || now.st_ino != bound.st_ino || now.st_dev != bound.st_dev) return true;
  return unlink(path.c_str()) == 0;
}

}  // namespace

Status ServeFastCgi(const ServerOptions& options, const HandlerFactory& factory) {
  if (options.threads < 1 || options.threads > 1024) return Status::InvalidArgument("threads must be 1 to 1024");
  Result<ListenAddress> address = ParseListenAddress(options.listen);
  if (!address.ok()) return address.status();
  (void)BlockStopSignals();  // before FCGX_Init installs libfcgi's SIGTERM handler; see the signals below
  if (FCGX_Init() != 0) return Status::Internal("FCGX_Init failed");

  Shared shared;
  shared.options = &options;
  shared.factory = &factory;
  shared.serving_thread = pthread_self();
  shared.web_server_addrs = ParseWebServerAddrs(std::getenv("FCGI_WEB_SERVER_ADDRS"));
  const int backlog = options.backlog > 0 ? options.backlog : DefaultListenBacklog();
  struct stat bound {};
  if (address->kind == ListenAddress::Kind::kUnix) {
    Result<int> fd = BindUnix(address->path, options, backlog);
    if (!fd.ok()) return fd.status();
    shared.listen_fd = *fd;
    shared.drain_left.store(std::numeric_limits<int64_t>::max());
    stat(address->path.c_str(), &bound);
  } else if (address->kind == ListenAddress::Kind::kTcp) {
    Result<int> fd = BindTcp(address->host, address->port, backlog);
    if (!fd.ok()) return fd.status();
    shared.listen_fd = *fd;
    shared.drain_left.store(std::numeric_limits<int64_t>::max());
  }

  // Signals (see the file comment). The mask set above is inherited by every worker thread.
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = IgnoreSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked accept() must fail with EINTR
  sigaction(SIGUSR2, &sa, nullptr);

  std::vector<std::thread> workers;
  workers.reserve(options.threads);
  for (unsigned i = 0; i < options.threads; ++i) workers.emplace_back(WorkerMain, &shared);

  sigset_t wait_for;
  sigemptyset(&wait_for);
  sigaddset(&wait_for, SIGTERM);
  sigaddset(&wait_for, SIGINT);
  sigaddset(&wait_for, SIGHUP);
  sigaddset(&wait_for, SIGUSR1);
  int sig = 0;
  for (;;) {
    if (sigwait(&wait_for, &sig) != 0) continue;
    if (sig != SIGUSR1) break;
    Logf(LogLevel::kInfo, "SIGUSR1 received: ignored");
  }
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    if (shared.fatal.ok()) {
      Logf(LogLevel::kInfo, "%s received: finishing requests in flight",
           sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    }
  }
  int64_t drain = shared.drain_left.load();
  if (drain > 0) {
    // No new connections: a Unix socket's file goes first (nginx's connect() then fails at once and can try another
    // server of the upstream); the workers then take what waits in the backlog without blocking, and exit when
    // accept() finds it empty. A TCP socket cannot refuse new connections without resetting the waiting ones: the
    // workers take as many as waited when the stop began, and what arrives later is reset when the process exits.
    // A Unix socket whose file stays (it could not be removed) would take new connections as TCP does, with no
    // backlog length to bound the drain by: not drained then, as an inherited socket.
    if (address->kind == ListenAddress::Kind::kUnix && !UnlinkIfOurs(address->path, bound)) drain = 0;
    if (address->kind == ListenAddress::Kind::kTcp) {
      // Linux reports a listening socket's accept queue length as tcpi_unacked.
      struct tcp_info info {};
      socklen_t len = sizeof info;
      drain = getsockopt(shared.listen_fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_unacked : 0;
    }
    const int flags = drain > 0 ? fcntl(shared.listen_fd, F_GETFL) : -1;
    if (flags < 0 || fcntl(shared.listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) drain = 0;
    shared.drain_left.store(drain);
  }
  shared.stop.store(true);
  {
    std::unique_lock<std::mutex> lock(shared.mu);
    while (shared.exited < workers.size() || shared.deferred > 0) {
      // Idle workers have SIGUSR2 unblocked inside accept(); busy ones hold it pending until their request is done.
      for (std::thread& t : workers) pthread_kill(t.native_handle(), SIGUSR2);
      shared.exited_cv.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  for (std::thread& t : workers) t.join();
  // SIGTERM, SIGINT, SIGHUP and SIGUSR1 stay blocked in this thread: a second signal arriving now must not kill the
  // process before it exits cleanly.

  if (address->kind == ListenAddress::Kind::kUnix) (void)UnlinkIfOurs(address->path, bound);
  std::lock_guard<std::mutex> lock(shared.mu);
  return shared.fatal;
}

Status ServeCgiOnce(const ServerOptions& options, RequestHandler& handler) {
  signal(SIGPIPE, SIG_IGN);  // a web server that went away is a write error, not a fatal signal
  Request request = BuildRequest(
      [](const char* name) -> const char* { return std::getenv(name); },
      [](char* buf, int len) -> int {
        for (;;) {
          ssize_t n = ::read(STDIN_FILENO, buf, static_cast<size_t>(len));
          if (n < 0 && errno == EINTR) continue;
          return static_cast<int>(n);
        }
      },
      options.max_body_bytes);
  Response response;
  try {
    response = Await(handler.Handle(request));
  } catch (const std::exception& e) {
    Logf(LogLevel::kError, "request handler failed: %s", e.what());
    response = InternalError();
  }
  std::string out = SerializeResponse(response);
  size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::write(STDOUT_FILENO, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError("writing the CGI response: " + Errno(errno));
    off += static_cast<size_t>(n);
  }
  return Status::OK();
}

}  // namespace tf::http
