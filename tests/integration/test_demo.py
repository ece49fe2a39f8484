"""The embedded demo as a new user meets it: start `coap-gateway --demo`, then run every
command it prints, exactly as printed (only the observation is shortened). Every program those
commands run must come with a fresh Debian 12 plus scripts/install-deps.sh."""
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from gwproc import BIN_DIR

INSTALL_DEPS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "../../scripts/install-deps.sh")
# Programs on every Debian system: bash builtins and coreutils (Essential: yes).
ESSENTIAL = {"printf", "echo", "cat", "od", "head", "tail", "base64", "tr", "wc"}
# Other programs a printed command may run, with the Debian package that brings each; that
# package must be in install-deps.sh's list.
FROM_PACKAGE = {"coap-client-notls": "libcoap3-bin", "coap-client-openssl": "libcoap3-bin", "curl": "curl", "openssl": "openssl",
                "python3": "python3"}


def programs(command):
    """The programs a simple shell command line runs: the first word of each pipeline stage."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found, expect_program = [], True
    for word in lexer:
        if word in ("|", "||", "&&", ";", "&"):
            expect_program = True
        elif expect_program and word not in ("<", ">", ">>"):
            found.append(word)
            expect_program = False
    return found


def install_deps_packages():
    """The package names in install-deps.sh's packages=( ... ) list."""
    with open(INSTALL_DEPS) as f:
        text = f.read()
    body = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M).group(1)
    return {w for line in body.splitlines() for w in line.split("#", 1)[0].split()}


class Demo(unittest.TestCase):
    def test_every_printed_command_works(self):
        # The demo prints commands for coap-client-notls (libcoap3-bin, from install-deps.sh):
        # without it the demo is broken for its user, and so is this test's environment.
        self.assertIsNotNone(shutil.which("coap-client-notls"),
                             "coap-client-notls is missing (Debian package libcoap3-bin)")
        work = tempfile.mkdtemp(prefix="demo-")
        self.addCleanup(shutil.rmtree, work, True)
        config = os.path.join(work, "gateway.yaml")
        with open(config, "w") as f:  # a free port instead of 5683: CI may run other things
            f.write('coap:\n  listen: ["127.0.0.1:0"]\nlog:\n  level: warn\n')
        proc = subprocess.Popen([os.path.join(BIN_DIR, "coap-gateway"), "--demo", "--config", config],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))

        text, deadline = b"", time.monotonic() + 30
        while b"/rpc" not in text:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "the demo printed no commands: %r" % text)
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                self.assertTrue(chunk, "the demo exited")
                text += chunk
        out = text.decode()
        self.assertIn("CIK a32c85ba9dda45823be416246cf8b433baa068d7", out)
        # The commands are the indented lines after "Try, ...", between "# what" comments.
        listing = out.split("Try,", 1)[1].splitlines()[1:]
        commands = [l.strip() for l in listing
                    if l.startswith("  ") and l.strip() and not l.strip().startswith("#")]
        self.assertGreaterEqual(len(commands), 11)

        provided = install_deps_packages()
        self.assertIn("libcoap3-bin", provided)
        for command in commands:
            for program in programs(command):
                if program in ESSENTIAL:
                    continue
                self.assertIn(program, FROM_PACKAGE,
                              "%r runs %s, which a fresh Debian 12 with install-deps.sh lacks"
                              % (command, program))
                self.assertIn(FROM_PACKAGE[program], provided,
                              "%r needs package %s, not in install-deps.sh"
                              % (command, FROM_PACKAGE[program]))

        results = {}
        for command in commands:
            command = command.replace("-s 60", "-s 1 -B 3")  # the observation, shortened
            r = subprocess.run(["bash", "-c", command], capture_output=True, cwd=work, timeout=60)
            results[command] = r
            self.assertEqual(r.returncode, 0, command)
            self.assertNotRegex(r.stderr.decode(errors="replace"), r"\b[45]\.\d\d\b", command)

        def output(fragment):
            return next(r.stdout for c, r in results.items() if fragment in c)

        self.assertIn(b"</ts>", output(".well-known/core"))
        self.assertEqual(output("-m get 'coap://").strip().split(b"\n")[0], b"22.5")
        # The same Read over coaps with the demo PSK: the value written over plain CoAP.
        self.assertEqual(output("-m get 'coaps://").strip().split(b"\n")[0], b"22.5")
        self.assertRegex(output("provision/activate").decode(), r"[0-9a-f]{40}")
        self.assertIn(b"firmware.bin", output("download/demo/gateway?"))
        self.assertEqual(os.path.getsize(os.path.join(work, "firmware.bin")), 5000)
        self.assertIn(b'"status":"ok"', output("/rpc"))
        # Multiple Read and Write, shown as hex: the CBOR answer names both dataports.
        answer = bytes.fromhex("".join(output("&temp&humidity").decode().split()))
        self.assertIn(b"humidity", answer)
        self.assertIn(b"temp", answer)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(30), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
