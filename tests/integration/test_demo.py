"""The embedded demo as a new user meets it: start `coap-gateway --demo`, then run every
command it prints, exactly as printed (only the observation is shortened)."""
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from gwproc import BIN_DIR, coap_client_binary


class Demo(unittest.TestCase):
    def test_every_printed_command_works(self):
        if os.path.basename(coap_client_binary()) != "coap-client-notls":
            self.skipTest("the demo prints commands for coap-client-notls")
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
        commands = [l.strip() for l in out.splitlines()
                    if l.strip().startswith(("coap-client-notls", "printf"))]
        self.assertGreaterEqual(len(commands), 11)

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
        self.assertRegex(output("provision/activate").decode(), r"[0-9a-f]{40}")
        self.assertIn(b"firmware.bin", output("download/demo/gateway?"))
        self.assertEqual(os.path.getsize(os.path.join(work, "firmware.bin")), 5000)
        self.assertIn(b'"status":"ok"', output("/rpc"))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(30), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
