"""The package's protocol functions, as the runtime reads and writes them."""

import json
import unittest

from swarmd_agent import PROTOCOL_VERSION, ProtocolError, done, failed, go
from swarmd_agent import protocol


class Keys(unittest.TestCase):
    def test_keys_are_under_the_tenants_agent_space(self):
        self.assertEqual(protocol.key("acme", "d1", "percept"), "swarmd/acme/agent/d1/percept")

    def test_a_name_that_would_widen_the_key_is_refused(self):
        for bad in ("", "a/b", "*", "a**", "$x"):
            with self.assertRaises(ValueError):
                protocol.key("acme", bad, "percept")
        with self.assertRaises(ValueError):
            protocol.key("acme", "d1", "telemetry")


class Messages(unittest.TestCase):
    def test_a_percept_carries_version_agent_seq_and_sender(self):
        m = protocol.percept("d1", 7, {"at": [1, 2]}, "me")
        self.assertEqual(m, {"v": PROTOCOL_VERSION, "agent": "d1", "seq": 7,
                             "percept": {"at": [1, 2]}, "from": "me"})

    def test_decisions_are_the_runtimes_shapes(self):
        self.assertEqual(go("hover"), {"go": "hover"})
        self.assertEqual(done(), {"done": None})
        self.assertEqual(failed("no"), {"failed": "no"})
        m = protocol.intent("d1", 3, done(), model="m", latency_ms=5)
        self.assertEqual(m, {"v": 1, "agent": "d1", "seq": 3, "plan": {"done": None},
                             "model": "m", "latency_ms": 5})

    def test_decode_checks_version_agent_and_size(self):
        ok = json.dumps({"v": 1, "agent": "d1", "seq": 2, "after": 1, "command": "hover"}).encode()
        command = protocol.command_of(protocol.decode(ok, "d1"))
        self.assertEqual((command.seq, command.after, command.command), (2, 1, "hover"))
        with self.assertRaisesRegex(ProtocolError, "version"):
            protocol.decode(b'{"v": 2, "agent": "d1"}', "d1")
        with self.assertRaisesRegex(ProtocolError, "agent"):
            protocol.decode(ok, "d2")
        with self.assertRaisesRegex(ProtocolError, "JSON"):
            protocol.decode(b"{nope", "d1")
        with self.assertRaisesRegex(ProtocolError, "bytes"):
            protocol.decode(b" " * (protocol.MAX_MESSAGE_BYTES + 1), "d1")
        with self.assertRaisesRegex(ProtocolError, "not a command"):
            protocol.command_of(protocol.decode(b'{"v": 1, "agent": "d1", "seq": 1}', "d1"))

    def test_a_situation_reads_with_its_task_and_deadline(self):
        raw = {"v": 1, "agent": "d1", "seq": 4, "summary": {"at": [0, 0]},
               "task": {"id": "1/0", "kind": "deliver", "task": {}}, "deadline_ms": 2000}
        s = protocol.situation_of(protocol.decode(json.dumps(raw).encode(), "d1"))
        self.assertEqual((s.seq, s.deadline_ms, s.task["kind"], s.trace), (4, 2000, "deliver", None))

    def test_an_oversized_message_is_not_sent(self):
        with self.assertRaises(ProtocolError):
            protocol.encode({"blob": "x" * protocol.MAX_MESSAGE_BYTES})


if __name__ == "__main__":
    unittest.main()
