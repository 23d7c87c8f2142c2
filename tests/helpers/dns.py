"""A DNS server on 127.0.0.1, for the address guard's tests."""

from __future__ import annotations

import socket
import threading


class DnsStandIn:
    """A nameserver on 127.0.0.1 (UDP) whose answers change from one query to the next:
    ``answers[name]`` lists the addresses to give at each query, the last one repeated.
    """

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.queries: list[str] = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while True:
            try:
                data, peer = self.socket.recvfrom(4096)
            except OSError:
                return  # stopped
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            kind = dns.rdatatype.to_text(question.rdtype)
            response = dns.message.make_response(query)
            if kind == "A" and name in self.answers:
                self.queries.append(name)
                turns = self.answers[name]
                addresses = turns[min(len(self.queries_for(name)) - 1, len(turns) - 1)]
                response.answer.append(dns.rrset.from_text(name + ".", 0, "IN", "A", *addresses))
            elif name not in self.answers:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.socket.sendto(response.to_wire(), peer)

    def queries_for(self, name: str) -> list[str]:
        return [query for query in self.queries if query == name]

    def stop(self) -> None:
        self.socket.close()
