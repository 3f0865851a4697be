// The FastCGI adapter: the only code that includes fcgiapp.h (never fcgi_stdio.h). It accepts requests on a
// listening socket (inherited on fd 0 from spawn-fcgi, mod_fcgid or systemd, or bound by --listen), turns each into
// a Request, calls a RequestHandler, and writes the Response back. Run as plain CGI (fd 0 is not a socket), it
// answers the one request found in the environment and stdin.
//
// Threads: `threads` threads each accept and serve one request at a time. Each thread gets its own RequestHandler
// from the factory, created on that thread, so handlers need no locking of their own state. A deferred Response
// (request.h) is answered by the thread that completes it, which writes it and closes the request, while the thread
// that accepted the request accepts the next one; so a deferred continuation must not touch a handler's own state.
// On a connection the web server keeps alive (fastcgi_keep_conn), and in CGI mode, the accepting thread waits for
// the answer instead.
//
// Shutdown: SIGTERM, SIGINT or SIGHUP stops accepting; requests in flight (deferred ones too) are finished and
// written; on a socket bound by --listen, the connections already waiting in its backlog are accepted and answered
// too (a Unix socket's file is removed first); Serve returns OK.
// SIGUSR1 is ignored (logged). No signal interrupts a request in flight.
#pragma once

#include <signal.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/request.h"
#include "util/status.h"

namespace tf::http {

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual Response Handle(const Request& request) = 0;
};

using HandlerFactory = std::function<std::unique_ptr<RequestHandler>()>;

struct ServerOptions {
  // "" = the socket inherited on fd 0; "unix:/path" or "HOST:PORT" (HOST required: never all interfaces by default).
  std::string listen;
  unsigned threads = 1;
  uint64_t max_body_bytes = 64 * 1024;
  // listen() backlog of a socket bound by --listen: connections that wait for a free thread. 0 = the system's
  // maximum (DefaultListenBacklog). An inherited socket keeps the backlog its creator gave it.
  int backlog = 0;
  // "unix:/path" only: the socket file's owner and group (-1 = the worker's own) and mode, as spawn-fcgi's -U, -G
  // and -M. A worker that is not root can give the socket only to a group it belongs to.
  int socket_uid = -1;
  int socket_gid = -1;
  unsigned socket_mode = 0660;
};

// The system's maximum listen backlog, /proc/sys/net/core/somaxconn (SOMAXCONN when it cannot be read): a burst of
// connections queues there instead of being refused (EAGAIN on a Unix socket, a dropped SYN on TCP).
int DefaultListenBacklog();

// True when the socket inherited on fd 0 is a TCP (IPv4 or IPv6) socket.
bool InheritedSocketIsTcp();

// True when fd 0 is not a socket, i.e. we were started as a CGI program (FCGX_IsCGI).
bool RunningAsCgi();

// Blocks the signals ServeFastCgi takes (SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2) in the calling thread, and so in
// the threads it starts afterwards; returns the previous mask. A worker calls it first thing, so that a stop signal
// that arrives while it starts (opening the database, starting its hashing helper) waits for ServeFastCgi, which then
// stops cleanly, instead of killing the process or being lost to the SIGTERM handler libfcgi installs (in
// RunningAsCgi). A worker that turns out to be a CGI program restores the previous mask.
sigset_t BlockStopSignals();

// Serves FastCGI requests until SIGTERM, SIGINT or SIGHUP. Returns an error if the socket cannot be bound.
Status ServeFastCgi(const ServerOptions& options, const HandlerFactory& factory);

// Answers the single CGI request from environ and stdin on stdout.
Status ServeCgiOnce(const ServerOptions& options, RequestHandler& handler);

// Builds a Request from CGI-style parameters (FCGX_GetParam semantics: name -> value or nullptr) and a body reader.
// Exposed for unit tests and the fuzz target; used by both ServeFastCgi and ServeCgiOnce.
using ParamLookup = std::function<const char*(const char* name)>;
using BodyReader = std::function<int(char* buf, int len)>;  // returns bytes read, 0 at end, <0 on error
Request BuildRequest(const ParamLookup& param, const BodyReader& read, uint64_t max_body_bytes);

// Serialises a Response in CGI form ("Status: 200 OK\r\nHeader: v\r\n\r\nbody").
std::string SerializeResponse(const Response& response);

}  // namespace tf::http
