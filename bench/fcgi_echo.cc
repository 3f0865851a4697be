// fcgi_echo: the baseline of `make bench`. A bare libfcgi program that reads each request's body (as the real worker
// does) and answers every request with the same ~900-byte JSON body, the size of a token response, with the headers
// a token response carries. It depends on nothing of ours, so the difference between it and tokenfcgi behind the
// same nginx is the cost of the OAuth work itself.
//
//   fcgi_echo [--listen ADDR] [--threads N] [--close-at-once]
//
// --close-at-once closes each connection as tokenfcgi does when a body of declared length was read to its end
// (FCGX_Detach before FCGX_Finish_r: a plain close(), instead of libfcgi's shutdown and wait for the web server to
// close first). Without it, fcgi_echo is libfcgi's plain accept/finish loop.
//
// ADDR is passed to FCGX_OpenSocket: ":PORT", "HOST:PORT" or a Unix socket path (a "unix:" prefix is accepted, so
// the same ADDR works for tokenfcgi). Without --listen the socket inherited on fd 0 is used (spawn-fcgi). SIGTERM
// ends the process (the default action): a benchmark baseline needs no graceful shutdown.
#include <fcgiapp.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// {"access_token":"<800 chars>","token_type":"Bearer","expires_in":3600,"scope":"api1 api2"}: about 900 bytes, like
// an RS256 access token response. Built once; never changes.
std::string MakeBody() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIiwidHlwIjoiYXQrand0In0.";
  for (size_t i = 0; token.size() < 821; ++i) {
    if (token.size() == 400) token += '.';
    token += kAlphabet[(i * 7 + 3) % 64];
  }
  return "{\"access_token\":\"" + token +
         "\",\"token_type\":\"Bearer\",\"expires_in\":3600,\"scope\":\"api1 api2\"}";
}

void Serve(int listen_fd, const std::string* response, bool close_at_once) {
  FCGX_Request req;
  FCGX_InitRequest(&req, listen_fd, 0);
  char buf[16384];
  while (FCGX_Accept_r(&req) >= 0) {
    // Read the body, bounded, as the real worker does.
    const char* cl = FCGX_GetParam("CONTENT_LENGTH", req.envp);
    long remaining = cl ? std::strtol(cl, nullptr, 10) : 0;
    if (remaining > (1 << 20)) remaining = 0;
    while (remaining > 0) {
      int n = FCGX_GetStr(buf, remaining < static_cast<long>(sizeof buf) ? static_cast<int>(remaining)
                                                                          : static_cast<int>(sizeof buf),
                          req.in);
      if (n <= 0) break;
      remaining -= n;
    }
    FCGX_PutStr(response->data(), static_cast<int>(response->size()), req.out);
    char extra;
    if (close_at_once && cl != nullptr && cl[0] != '\0' && remaining == 0 && FCGX_GetStr(&extra, 1, req.in) == 0 &&
        FCGX_HasSeenEOF(req.in)) {
      FCGX_Detach(&req);
    }
    FCGX_Finish_r(&req);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  int threads = 1;
  bool close_at_once = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      listen = argv[++i];
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
      if (threads < 1 || threads > 1024) {
        std::fprintf(stderr, "fcgi_echo: --threads must be 1 to 1024\n");
        return 2;
      }
    } else if (std::strcmp(argv[i], "--close-at-once") == 0) {
      close_at_once = true;
    } else {
      std::fprintf(stderr, "usage: fcgi_echo [--listen ADDR] [--threads N] [--close-at-once]\n");
      return 2;
    }
  }
  if (listen.rfind("unix:", 0) == 0) listen = listen.substr(5);

  signal(SIGPIPE, SIG_IGN);
  if (FCGX_Init() != 0) {
    std::fprintf(stderr, "fcgi_echo: FCGX_Init failed\n");
    return 1;
  }
  int listen_fd = 0;
  if (!listen.empty()) {
    listen_fd = FCGX_OpenSocket(listen.c_str(), 128);
    if (listen_fd < 0) {
      std::fprintf(stderr, "fcgi_echo: cannot listen on %s\n", listen.c_str());
      return 1;
    }
  } else if (FCGX_IsCGI()) {
    std::fprintf(stderr, "fcgi_echo: fd 0 is not a FastCGI socket; use --listen ADDR or spawn-fcgi\n");
    return 2;
  }

  const std::string body = MakeBody();
  const std::string response =
      "Status: 200 OK\r\n"
      "Content-Type: application/json\r\n"
      "Cache-Control: no-store\r\n"
      "Pragma: no-cache\r\n"
      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(Serve, listen_fd, &response, close_at_once);
  Serve(listen_fd, &response, close_at_once);
  for (std::thread& t : pool) t.join();
  return 0;
}
