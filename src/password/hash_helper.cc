#include "password/hash_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "util/log.h"

extern char** environ;

namespace tf {
namespace {

constexpr int kFirstChannelFd = 3;
constexpr char kReady[] = "ready";        // the helper's first message, on the first pair
constexpr int kReadyTimeoutMs = 10000;    // a sanitizer build on a loaded machine takes a while to start
// A request is at most a few fixed fields, a stored hash and a password, each cut to one byte over its limit (a
// longer one never matches and costs no more work); an answer, the flags, the work and one hash or error message.
constexpr size_t kMaxMessage = 64 + 4 * (kMaxStoredHashLength + kMaxPasswordLength);

// -- the messages ------------------------------------------------------------------------------------------------

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutBytes(std::string* out, std::string_view s, size_t max) {
  s = s.substr(0, max + 1);
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Reads fields in order; any read past the end makes ok() false (and returns zeros).
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  uint64_t Uint(int bytes) {
    if (in_.size() < static_cast<size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in_[i])) << (8 * i);
    in_.remove_prefix(static_cast<size_t>(bytes));
    return v;
  }
  std::string Bytes() {
    const uint64_t n = Uint(4);
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  bool AtEnd() const { return ok_ && in_.empty(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

std::string EncodeJob(const PasswordCheckJob& job) {
  std::string out;
  out.push_back(static_cast<char>((job.user_found ? 1 : 0) | (job.rehash_if_needed ? 2 : 0)));
  PutU32(&out, job.params.memory_kib);
  PutU32(&out, job.params.iterations);
  PutU32(&out, job.params.parallelism);
  PutBytes(&out, job.stored, kMaxStoredHashLength);
  PutBytes(&out, job.password, kMaxPasswordLength);
  return out;
}

bool DecodeJob(std::string_view in, PasswordCheckJob* job) {
  Reader r(in);
  const uint64_t flags = r.Uint(1);
  job->user_found = (flags & 1) != 0;
  job->rehash_if_needed = (flags & 2) != 0;
  job->params.memory_kib = static_cast<uint32_t>(r.Uint(4));
  job->params.iterations = static_cast<uint32_t>(r.Uint(4));
  job->params.parallelism = static_cast<uint32_t>(r.Uint(4));
  job->stored = r.Bytes();
  job->password = r.Bytes();
  return r.AtEnd();
}

std::string EncodeResult(const PasswordCheckResult& result, const HashWork& work) {
  std::string out;
  out.push_back(static_cast<char>((result.check.match ? 1 : 0) | (result.check.needs_rehash ? 2 : 0)));
  PutU64(&out, work.argon2_calls);
  PutU64(&out, work.argon2_background_calls);
  PutU64(&out, work.argon2_kib_passes);
  PutU64(&out, work.pbkdf2_iterations);
  PutBytes(&out, result.upgraded_hash, kMaxStoredHashLength);
  PutBytes(&out, result.rehash_error, kMaxStoredHashLength);
  return out;
}

bool DecodeResult(std::string_view in, PasswordCheckResult* result, HashWork* work) {
  Reader r(in);
  const uint64_t flags = r.Uint(1);
  result->check.match = (flags & 1) != 0;
  result->check.needs_rehash = (flags & 2) != 0;
  work->argon2_calls = r.Uint(8);
  work->argon2_background_calls = r.Uint(8);
  work->argon2_kib_passes = r.Uint(8);
  work->pbkdf2_iterations = r.Uint(8);
  result->upgraded_hash = r.Bytes();
  result->rehash_error = r.Bytes();
  return r.AtEnd();
}

// Whole messages on a SOCK_SEQPACKET socket; false on an error or the other end closing.
bool SendMessage(int fd, const std::string& message) {
  for (;;) {
    const ssize_t n = send(fd, message.data(), message.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(message.size())) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}
bool ReceiveMessage(int fd, std::string* message) {
  message->resize(kMaxMessage + 1);
  for (;;) {
    const ssize_t n = recv(fd, message->data(), message->size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || static_cast<size_t>(n) > kMaxMessage) return false;
    message->resize(static_cast<size_t>(n));
    return true;
  }
}

// -- the worker's side -------------------------------------------------------------------------------------------

// One end of a socket pair, with the helper it belongs to (a helper started again gets new pairs).
struct Channel {
  int fd = -1;
  uint64_t generation = 0;
};

// The helper as the worker sees it. A supervisor thread starts it, waits for it to exit, and starts it again after a
// pause (1 s, doubling up to 60 s while it keeps dying young); meanwhile checks run on the worker's own threads.
// Each pair is closed by whoever holds it last: the free list's by the supervisor when the helper exits, a pair in
// use by its request once the helper that owned it is gone.
struct Helper {
  std::mutex mu;
  std::condition_variable freed;    // a pair came back, or the helper went away
  std::condition_variable settled;  // the first start succeeded or failed
  std::vector<Channel> free_channels;
  size_t open_channels = 0;         // pairs of the current helper not yet closed
  uint64_t generation = 0;          // of the current helper
  bool serving = false;             // the current helper said it was ready and has not exited
  bool first_start_done = false;
  long pid = 0;                     // 0 once reaped (its pid may then be another process's)
  std::string exe;
  unsigned channels = 0;

  static Helper& Process() {
    static Helper* helper = new Helper;  // never destroyed: request threads may still use it at exit
    return *helper;
  }

  bool Take(Channel* out) {
    std::unique_lock<std::mutex> lock(mu);
    freed.wait(lock, [&] { return !free_channels.empty() || !serving || open_channels == 0; });
    if (!serving || free_channels.empty()) return false;
    *out = free_channels.back();
    free_channels.pop_back();
    return true;
  }
  void Give(const Channel& c) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (serving && c.generation == generation) {
        free_channels.push_back(c);
        freed.notify_one();
        return;
      }
    }
    close(c.fd);
  }
  // The pair failed: the helper is dead or broke the protocol. It is killed (the supervisor then starts another);
  // the pair is closed.
  void Fail(const Channel& c, const char* what) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (serving && c.generation == generation) {
        if (pid > 0) {
          Logf(LogLevel::kError, "the password hashing helper (pid %ld) %s; stopping it", pid, what);
          (void)kill(static_cast<pid_t>(pid), SIGKILL);  // not reaped yet (the supervisor clears pid first)
        }
        if (open_channels > 0) --open_channels;
        freed.notify_all();
      }
    }
    close(c.fd);
  }

  // Starts a helper and waits for its "ready"; its pid (0 if it could not be spawned) and an error if it is not
  // serving.
  Status Start(pid_t* child);
  void Supervise();
};

Status Helper::Start(pid_t* child) {
  *child = 0;
  std::vector<int> mine, theirs;
  const auto close_all = [&] {
    for (int fd : mine) close(fd);
    for (int fd : theirs) close(fd);
  };
  for (unsigned i = 0; i < channels; ++i) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      const int error = errno;
      close_all();
      return Status::Internal(std::string("socketpair: ") + std::strerror(error));
    }
    mine.push_back(pair[0]);
    theirs.push_back(pair[1]);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  for (unsigned i = 0; i < channels; ++i) {
    posix_spawn_file_actions_adddup2(&actions, theirs[i], kFirstChannelFd + static_cast<int>(i));
  }
  const std::string count = std::to_string(channels);
  // Named as ps and pgrep should show it, whatever path `exe` is (the worker passes /proc/self/exe).
  char* argv[] = {const_cast<char*>("tokenfcgi"), const_cast<char*>("--hash-helper"), const_cast<char*>(count.c_str()),
                  nullptr};
  pid_t spawned_pid = 0;
  const int spawned = posix_spawn(&spawned_pid, exe.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  for (int fd : theirs) close(fd);
  theirs.clear();
  if (spawned != 0) {
    close_all();
    return Status::Internal(exe + ": " + std::strerror(spawned));
  }
  *child = spawned_pid;
  // The helper says it is ready once it has its session and priority, so that no check runs before it does.
  pollfd ready{mine[0], POLLIN, 0};
  int polled;
  while ((polled = poll(&ready, 1, kReadyTimeoutMs)) < 0 && errno == EINTR) {
  }
  std::string hello;
  if (polled != 1 || !ReceiveMessage(mine[0], &hello) || hello != kReady) {
    (void)kill(spawned_pid, SIGKILL);  // not reaped yet: only this thread reaps
    close_all();
    return Status::Internal(polled == 0 ? "it did not say it was ready within 10 s" : "it exited at start");
  }
  std::lock_guard<std::mutex> lock(mu);
  ++generation;
  free_channels.clear();
  for (int fd : mine) free_channels.push_back(Channel{fd, generation});
  open_channels = mine.size();
  pid = spawned_pid;
  serving = true;
  freed.notify_all();
  return Status::OK();
}

void Helper::Supervise() {
  auto pause = std::chrono::seconds(1);
  for (bool first = true;; first = false) {
    pid_t child = 0;
    const Status started = Start(&child);
    const auto since = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!first && started.ok()) {
        Logf(LogLevel::kInfo, "the password hashing helper started again (pid %ld)", static_cast<long>(child));
      } else if (!first) {
        Logf(LogLevel::kError, "the password hashing helper did not start again (%s)", started.message().c_str());
      }
      first_start_done = true;
      settled.notify_all();
    }
    if (first && !started.ok()) {
      Logf(LogLevel::kWarn, "cannot start the password hashing helper (%s); password checks run on this worker's "
           "threads until it starts", started.message().c_str());
    }
    if (child > 0) {
      // Waits for the exit without reaping, forgets the pid and the pairs, then reaps: so nobody signals a pid the
      // kernel gave to another process.
      siginfo_t info{};
      while (waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
      }
      std::vector<Channel> closing;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (started.ok()) {
          Logf(LogLevel::kError,
               "the password hashing helper (pid %ld) exited (%s %d); password checks run on this worker's threads "
               "until it is started again",
               static_cast<long>(child), info.si_code == CLD_EXITED ? "status" : "signal", info.si_status);
        }
        pid = 0;
        serving = false;
        open_channels = 0;
        closing.swap(free_channels);
        freed.notify_all();
      }
      for (const Channel& c : closing) close(c.fd);
      while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    // A helper that lived long is started again after a second; one that keeps dying young, less and less often.
    if (std::chrono::steady_clock::now() - since > std::chrono::seconds(60)) pause = std::chrono::seconds(1);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::seconds(60));
  }
}

}  // namespace

PasswordCheckResult RunPasswordCheck(const PasswordCheckJob& job) {
  PasswordCheckResult result;
  if (job.user_found) {
    result.check = VerifyPasswordAtLeastAt(job.stored, job.password, job.params);
  } else {
    VerifyDummyPassword(job.password, job.params);
  }
  if (job.user_found && job.rehash_if_needed && result.check.match && result.check.needs_rehash) {
    Result<std::string> h = HashPassword(job.password, job.params);
    if (h.ok()) {
      result.upgraded_hash = std::move(h).value();
    } else {
      result.rehash_error = h.status().message();
    }
  }
  return result;
}

PasswordCheckResult CheckPasswordInBackground(const PasswordCheckJob& job) {
  Helper& helper = Helper::Process();
  Channel channel;
  if (helper.Take(&channel)) {
    std::string answer;
    PasswordCheckResult result;
    HashWork work;
    if (!SendMessage(channel.fd, EncodeJob(job)) || !ReceiveMessage(channel.fd, &answer)) {
      helper.Fail(channel, "closed its socket");
    } else if (!DecodeResult(answer, &result, &work)) {
      helper.Fail(channel, "answered a malformed message");
    } else {
      helper.Give(channel);
      CountHashWork(work);
      return result;
    }
  }
  PasswordCheckResult result;
  RunAtBackgroundPriority([&] { result = RunPasswordCheck(job); });
  return result;
}

Status StartHashHelper(const std::string& exe, unsigned channels) {
  Helper& helper = Helper::Process();
  if (channels == 0) return Status::InvalidArgument("the hashing helper needs at least one channel");
  std::unique_lock<std::mutex> lock(helper.mu);
  if (!helper.exe.empty()) return Status::AlreadyExists("the hashing helper was started already");
  helper.exe = exe;
  helper.channels = channels;
  {
    // The supervisor takes no signal (a worker takes its signals in one thread, http/fcgi_server.cc) and lives as
    // long as the process: the helper's PR_SET_PDEATHSIG fires when the thread that started it ends.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    std::thread([&helper] { helper.Supervise(); }).detach();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  helper.settled.wait_for(lock, std::chrono::milliseconds(kReadyTimeoutMs + 5000),
                          [&] { return helper.first_start_done; });
  return helper.serving ? Status::OK() : Status::Unavailable("the hashing helper did not start (logged)");
}

long HashHelperPid() {
  Helper& helper = Helper::Process();
  std::lock_guard<std::mutex> lock(helper.mu);
  return helper.serving ? helper.pid : 0;
}

// -- the helper's side -------------------------------------------------------------------------------------------

int HashHelperMain(unsigned channels) {
  const pid_t worker = getppid();
  (void)prctl(PR_SET_NAME, "tokenfcgi-hash");  // not "exe", from /proc/self/exe
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != worker || worker == 1) return 1;  // the worker is gone already
  close_range(static_cast<unsigned>(kFirstChannelFd) + channels, ~0u, 0);
  for (unsigned i = 0; i < channels; ++i) {
    if (fcntl(kFirstChannelFd + static_cast<int>(i), F_GETFD) < 0) {
      Logf(LogLevel::kError, "tokenfcgi --hash-helper %u: fd %u is not open", channels, kFirstChannelFd + i);
      return 1;
    }
  }
  // A session of its own, so a scheduling group of its own where the kernel groups by session (autogroup), at nice
  // 19; and nice 19 for its threads where it does not. Failures leave the hashing at the worker's priority.
  (void)setsid();
  if (int fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC); fd >= 0) {
    (void)!write(fd, "19", 2);
    close(fd);
  }
  (void)setpriority(PRIO_PROCESS, 0, 19);
  // Signals are the worker's business: a terminal's Ctrl-C reaches the worker, which closes the pairs.
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);

  if (!SendMessage(kFirstChannelFd, kReady)) return 1;

  std::vector<std::thread> threads;
  for (unsigned i = 0; i < channels; ++i) {
    threads.emplace_back([fd = kFirstChannelFd + static_cast<int>(i)] {
      std::string request;
      while (ReceiveMessage(fd, &request)) {
        PasswordCheckJob job;
        if (!DecodeJob(request, &job)) break;
        const HashWork before = ThreadHashWork();
        PasswordCheckResult result;
        RunAtBackgroundPriority([&] { result = RunPasswordCheck(job); });
        const HashWork after = ThreadHashWork();
        const HashWork work{after.argon2_calls - before.argon2_calls,
                            after.argon2_background_calls - before.argon2_background_calls,
                            after.argon2_kib_passes - before.argon2_kib_passes,
                            after.pbkdf2_iterations - before.pbkdf2_iterations};
        if (!SendMessage(fd, EncodeResult(result, work))) break;
      }
      close(fd);
    });
  }
  for (std::thread& t : threads) t.join();
  return 0;
}

}  // namespace tf
