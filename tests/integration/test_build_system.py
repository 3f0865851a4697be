"""What a distribution's packager relies on: the build has no side effects and no -Werror by default, the tests
follow CTest's BUILD_TESTING, and the CMake install rules cover everything the Debian package ships.

  * `make build` and `make install` run no apt-get (dry run of make); `make run`, `make test` and `make deb` go through
    scripts/deps.sh, `make run` with its --run profile: what serving needs, said before apt-get runs, never Apache;
  * a fresh configure defaults to TF_WERROR=OFF (no -Werror in compile_commands.json) and BUILD_TESTING=ON;
    -DTF_WERROR=ON adds -Werror; -DBUILD_TESTING=OFF registers no test;
  * `cmake --install` of the tested build into a staging directory installs the programs, the sample configuration,
    the man pages, the systemd units (naming the installed programs), the nginx and Apache examples, deploy.md and
    the demo configuration, and packaging/debian/ adds nothing beside them (no *.install, *.manpages, *.docs,
    *.examples, *.links files): the package is exactly the install rules (test_deb.py compares the two file lists).
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

SOURCE = harness.SOURCE_DIR


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, **kwargs)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


class BuildSystemTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tokenfcgi-build-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def make_dry_run(self, target):
        return run(["make", "-n", "-C", SOURCE, target]).stdout

    def test_build_and_install_install_no_packages(self):
        for target in ("build", "install", "all"):
            out = self.make_dry_run(target)
            self.assertNotIn("deps.sh", out, target)
            self.assertNotIn("apt-get", out, target)
        for target in ("deps", "deb"):
            self.assertIn("scripts/deps.sh", self.make_dry_run(target), target)
        # make run and make test call it from their scripts, after saying what they will do.
        for target, script, call in (("run", "run-demo.sh", "scripts/deps.sh --run"),
                                     ("test", "test.sh", "scripts/deps.sh")):
            self.assertIn(f"scripts/{script}", self.make_dry_run(target), target)
            with open(os.path.join(SOURCE, "scripts", script)) as f:
                self.assertIn(call, f.read(), script)

    def deps_with_nothing_installed(self, *args):
        """Runs scripts/deps.sh ARGS on a pretend machine where no package is installed: dpkg-query finds nothing,
        apt-get (and sudo) only log what they were asked. Returns (stderr in order, the packages apt-get installs)."""
        stubs = os.path.join(self.tmp, "stubs")
        os.mkdir(stubs)
        log = os.path.join(self.tmp, "apt.log")
        for name, body in (("dpkg-query", "exit 1"),
                           ("apt-get", f'echo "(apt-get ran: $*)" >&2; echo "$*" >>{log}'),
                           ("sudo", 'exec "$@"')):
            with open(os.path.join(stubs, name), "w") as f:
                f.write("#!/bin/sh\n" + body + "\n")
            os.chmod(os.path.join(stubs, name), 0o755)
        env = dict(os.environ, PATH=stubs + ":" + os.environ["PATH"])
        proc = run([os.path.join(SOURCE, "scripts", "deps.sh")] + list(args), env=env)
        with open(log) as f:
            install = [line.split()[4:] for line in f if line.startswith("install")]
        self.assertEqual(len(install), 1)
        return proc.stderr, install[0]

    def test_deps_profiles(self):
        # make run: what serving needs, said before apt-get runs; never Apache, no test tools.
        said, installed = self.deps_with_nothing_installed("--run")
        self.assertLess(said.index("needs these Debian packages"), said.index("(apt-get ran: update"))
        self.assertIn("building and serving (make run)", said)
        for package in ("cmake", "libfcgi-dev", "liblmdb-dev", "libssl-dev", "libcjson-dev", "libargon2-dev",
                        "nginx", "spawn-fcgi", "curl"):
            self.assertIn(package, installed)
            self.assertIn(package, said)
        for package in ("apache2", "libapache2-mod-fcgid", "clang", "lintian", "golang-go", "libgtest-dev",
                        "systemd", "python3-jwt"):
            self.assertNotIn(package, installed)
        # make test (the default): everything, Apache and the test tools included.
        shutil.rmtree(os.path.join(self.tmp, "stubs"))
        os.remove(os.path.join(self.tmp, "apt.log"))
        _, everything = self.deps_with_nothing_installed()
        self.assertTrue(set(installed) < set(everything))
        for package in ("apache2", "clang", "lintian", "golang-go", "libgtest-dev", "python3-jwt"):
            self.assertIn(package, everything)

    def configure(self, *args):
        build = os.path.join(self.tmp, "b%d" % len(os.listdir(self.tmp)))
        run(["cmake", "-S", SOURCE, "-B", build] + list(args))
        cache = {}
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                key, sep, value = line.rstrip("\n").partition("=")
                if sep and not line.startswith(("#", "//")):
                    cache[key.split(":")[0]] = value
        with open(os.path.join(build, "compile_commands.json")) as f:
            commands = [c["command"] for c in json.load(f)]
        tests = run(["ctest", "-N"], cwd=build).stdout
        return cache, commands, tests

    def test_werror_and_testing_switches(self):
        cache, commands, tests = self.configure()
        self.assertEqual(cache["TF_WERROR"], "OFF")
        self.assertEqual(cache["BUILD_TESTING"], "ON")
        self.assertTrue(commands)
        self.assertFalse([c for c in commands if "-Werror" in c.split()], "-Werror without TF_WERROR")
        self.assertIn("integration.test_build_system", tests)

        cache, commands, tests = self.configure("-DTF_WERROR=ON", "-DBUILD_TESTING=OFF")
        self.assertTrue(all("-Werror" in c.split() for c in commands))
        self.assertIn("Total Tests: 0", tests)

    def test_install_rules_cover_the_package(self):
        build = harness.BUILD_DIR
        if not os.path.isfile(os.path.join(build, "cmake_install.cmake")):
            self.skipTest(f"no configured build in {build}")
        stage = os.path.join(self.tmp, "stage")
        prefix = "/opt/tf"
        run(["cmake", "--install", build, "--prefix", prefix], env=dict(os.environ, DESTDIR=stage))
        installed = set()
        for root, _, files in os.walk(stage):
            for name in files:
                installed.add("/" + os.path.relpath(os.path.join(root, name), stage))
        cache = {}
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("=")
                cache[key.split(":")[0]] = value
        # The configuration directory and the unit directory are fixed when the build is configured.
        sysconf = cache.get("CMAKE_INSTALL_SYSCONFDIR", "etc")
        configured_prefix = cache["CMAKE_INSTALL_PREFIX"]
        etc = sysconf if sysconf.startswith("/") else (
            "/etc" if configured_prefix == "/usr" else f"{configured_prefix}/{sysconf}")
        unitdir = cache["TF_SYSTEMD_UNITDIR"]
        unitdir = unitdir if unitdir.startswith("/") else f"{prefix}/{unitdir}"
        expected = {f"{prefix}/bin/tokenfcgi", f"{prefix}/bin/tokenctl", f"{etc}/tokenfcgi/tokenfcgi.conf",
                    f"{prefix}/share/man/man8/tokenfcgi.8", f"{prefix}/share/man/man8/tokenctl.8",
                    f"{prefix}/share/man/man5/tokenfcgi.conf.5",
                    f"{prefix}/share/tokenfcgi/nginx/tokenfcgi.conf", f"{prefix}/share/tokenfcgi/apache/tokenfcgi.conf",
                    f"{prefix}/share/doc/tokenfcgi/deploy.md", f"{prefix}/share/doc/tokenfcgi/examples/demo.json",
                    f"{prefix}/share/tokenfcgi/nginx/tokenfcgi-limits.conf",
                    f"{prefix}/include/tokenfcgi/extension_grant.h"}
        libdir = cache.get("CMAKE_INSTALL_LIBDIR", "lib")
        libdir = libdir if libdir.startswith("/") else f"{prefix}/{libdir}"
        expected.add(f"{libdir}/tokenfcgi/hmac_assertion.so")
        for unit in ("tokenfcgi.service", "tokenfcgi.socket", "tokenfcgi-gc.service", "tokenfcgi-gc.timer"):
            expected.add(f"{unitdir}/{unit}")
        self.assertEqual(sorted(installed), sorted(expected))

        # Every file of the source tree that the package ships is installed verbatim, apart from the installed
        # paths the units and the Apache example name.
        bindir = f"{configured_prefix}/bin"
        with open(os.path.join(SOURCE, "packaging", "systemd", "tokenfcgi.service")) as f:
            source_unit = f.read()
        with open(stage + f"{unitdir}/tokenfcgi.service") as f:
            unit = f.read()
        self.assertIn(f"ExecStart={bindir}/tokenfcgi --config {etc}/tokenfcgi/tokenfcgi.conf", unit)
        self.assertEqual(unit, source_unit.replace("/usr/bin/", f"{bindir}/").replace(
            "/etc/tokenfcgi/", f"{etc}/tokenfcgi/"))
        for source, dest in (("packaging/man/tokenctl.8", "share/man/man8/tokenctl.8"),
                             ("packaging/man/tokenfcgi.conf.5", "share/man/man5/tokenfcgi.conf.5"),
                             ("nginx/tokenfcgi.conf", "share/tokenfcgi/nginx/tokenfcgi.conf"),
                             ("conf/tokenfcgi.conf", None)):
            with open(os.path.join(SOURCE, source), "rb") as f:
                want = f.read()
            path = stage + (f"{prefix}/{dest}" if dest else f"{etc}/tokenfcgi/tokenfcgi.conf")
            with open(path, "rb") as f:
                self.assertEqual(f.read(), want, source)

        # packaging/debian adds no file of its own to the package: dh_auto_install (the CMake rules) is all of it.
        extra = [n for n in os.listdir(os.path.join(SOURCE, "packaging", "debian"))
                 if n.endswith((".install", ".manpages", ".docs", ".examples", ".links", ".dirs"))]
        self.assertEqual(extra, [])


    def test_the_service_units_system_call_filter_lets_the_hashing_lower_its_priority(self):
        """packaging/systemd/tokenfcgi.service's SystemCallFilter lines, applied in order as systemd does (the first
        decides allow or deny list; each later line adds, or with ~ removes), leave setpriority allowed (the password
        hashing threads lower their own priority, password_hash.cc) and the privileged and resource calls denied."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")

        def expand(name, seen=None):
            if not name.startswith("@"):
                return {name}
            seen = seen if seen is not None else set()
            if name in seen:
                return set()
            seen.add(name)
            out = run([analyze, "syscall-filter", "--no-pager", name]).stdout.splitlines()
            calls = set()
            for line in out[1:]:
                line = line.strip()
                if line and not line.startswith("#"):
                    calls |= expand(line, seen)
            return calls

        with open(os.path.join(SOURCE, "packaging", "systemd", "tokenfcgi.service")) as f:
            lines = [line.split("=", 1)[1].strip() for line in f if line.startswith("SystemCallFilter=")]
        self.assertTrue(lines and not lines[0].startswith("~"), "the unit's filter is not an allow list")
        allowed = set()
        for line in lines:
            deny = line.startswith("~")
            names = set()
            for name in line.lstrip("~").split():
                names |= expand(name)
            allowed = allowed - names if deny else allowed | names
        self.assertIn("setpriority", allowed)
        for denied in ("setrlimit", "sched_setscheduler", "reboot", "mount", "setuid"):
            self.assertNotIn(denied, allowed)


if __name__ == "__main__":
    harness.main(binaries=(), tools=("cmake", "make"), need_jwt=False)
